// A walk over a libpg-query tree that may rewrite it in place: each node (a
// `{Type: body}` wrapper) is offered to `node`, which returns it (its children
// are walked next) or a replacement (walked again). The general translator and
// the catalog dialect each say what they rewrite; the walk is the same.
export type AnyNode = Record<string, any>;

export abstract class NodeRewriter {
  /** Rewrites a node (a `{Type: body}` wrapper, array or plain object) in place; returns its replacement. */
  walk(v: unknown): unknown {
    if (Array.isArray(v)) return v.map((x) => this.walk(x));
    if (!v || typeof v !== 'object') return v;
    const obj = v as AnyNode;
    const keys = Object.keys(obj);
    if (keys.length === 1 && /^[A-Z]/.test(keys[0]!) && obj[keys[0]!] && typeof obj[keys[0]!] === 'object') {
      const replaced = this.node(keys[0]!, obj[keys[0]!], obj);
      if (replaced !== obj) return this.walk(replaced);
    }
    for (const k of keys) obj[k] = this.walk(obj[k]);
    return obj;
  }

  /** One node: return it (children are walked next) or a replacement (walked again). */
  protected abstract node(type: string, n: AnyNode, self: AnyNode): AnyNode;
}
