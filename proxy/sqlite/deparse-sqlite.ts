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
    // (an aggregate of theirs keeps its DISTINCT, FILTER and OVER: the general path prints them)
    if (typeof name === 'string' && name.startsWith('cutover_') && !node.agg_distinct && !node.agg_filter && !node.over && !node.agg_order) {
      return `${name}(${(node.args ?? []).map((a: AnyNode) => this.visit(a as never, context)).join(', ')})`;
    }
    return super.FuncCall(node as never, context);
  }

  // IS [NOT] NULL / TRUE / FALSE bind tighter than NOT, comparisons and LIKE in PostgreSQL, and the tree
  // says which operand they test; SQLite ranks IS with = and below NOT, so a compound operand is
  // bracketed: `(NOT like(…)) IS NULL`, not `NOT like(…) IS NULL`, which SQLite reads as NOT (… IS NULL)
  override NullTest(node: AnyNode, context: any): string {
    return `${this.operand(node.arg, context)} ${node.nulltesttype === 'IS_NOT_NULL' ? 'IS NOT NULL' : 'IS NULL'}`;
  }

  override BooleanTest(node: AnyNode, context: any): string {
    const test = String(node.booltesttype).replace(/^IS_/, 'IS ').replace(/_/g, ' ');
    // SQLite has no UNKNOWN: a boolean test's NULL
    const word = test === 'IS UNKNOWN' ? 'IS NULL' : test === 'IS NOT UNKNOWN' ? 'IS NOT NULL' : test;
    return `${this.operand(node.arg, context)} ${word}`;
  }

  private operand(arg: AnyNode, context: any): string {
    const text = this.visit(arg as never, context);
    return arg.A_Expr || arg.BoolExpr || arg.NullTest || arg.BooleanTest ? `(${text})` : text;
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
