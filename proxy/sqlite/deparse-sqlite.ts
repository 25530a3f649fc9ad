// pgsql-deparser, taught to print what SQLite reads: plain '…' strings (SQLite
// has no E'' and no backslash escapes), type names chosen by the translator,
// and parenthesised column defaults.
import { Deparser } from 'pgsql-deparser';

/** A TypeName the translator rewrote carries the exact SQLite text to print. */
export const SQLITE_TYPE = '__sqlite';

type AnyNode = Record<string, any>;

class SqliteDeparser extends Deparser {
  override A_Const(node: AnyNode, context: any): string {
    const s = node.sval;
    if (s !== undefined && s !== null && typeof s === 'object') {
      const text: string = s.sval ?? s.String?.sval ?? '';
      return `'${text.replace(/'/g, "''")}'`;
    }
    return super.A_Const(node as never, context);
  }

  override TypeName(node: AnyNode, context: any): string {
    if (typeof node[SQLITE_TYPE] === 'string') return node[SQLITE_TYPE];
    return super.TypeName(node as never, context);
  }

  override FuncCall(node: AnyNode, context: any): string {
    // the proxy's own functions (checks.ts, catalog.ts) are plain calls, in most written statements:
    // printed without the general path's many special forms
    const name = node.funcname?.length === 1 ? node.funcname[0].String?.sval : undefined;
    if (typeof name === 'string' && name.startsWith('cutover_')) {
      return `${name}(${(node.args ?? []).map((a: AnyNode) => this.visit(a as never, context)).join(', ')})`;
    }
    return super.FuncCall(node as never, context);
  }

  override Constraint(node: AnyNode, context: any): string {
    if (node.contype === 'CONSTR_DEFAULT' && node.raw_expr) {
      return `DEFAULT (${this.visit(node.raw_expr, context)})`;
    }
    return super.Constraint(node as never, context);
  }
}

/** One statement node → SQLite SQL text. */
export function deparseForSqlite(stmt: AnyNode): string {
  return new SqliteDeparser([stmt] as never, { pretty: false }).deparseQuery();
}
