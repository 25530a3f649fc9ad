// PostgreSQL's own parser and deparser (libpg-query, pgsql-deparser) for the
// bits of source DDL Cutover carries over: CHECK expressions, defaults and
// CREATE INDEX statements. What does not parse is reported, never guessed at.
import pgQuery from 'libpg-query';
import { deparseSync } from 'pgsql-deparser';

let loaded: Promise<void> | null = null;
export function loadParser(): Promise<void> {
  loaded ??= pgQuery.loadModule();
  return loaded;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Node = any;

export function parse(sql: string): Node[] {
  return (pgQuery.parseSync(sql) as { stmts: { stmt: Node }[] }).stmts.map((s) => s.stmt);
}

export function deparse(node: Node): string {
  return deparseSync(node);
}

/** The expression node of `SELECT <expr>`, or null when it does not parse. */
export function parseExpression(expr: string): Node | null {
  try {
    const stmt = parse(`SELECT ${expr}`)[0];
    const list = stmt?.SelectStmt?.targetList;
    if (!list || list.length !== 1 || stmt.SelectStmt.fromClause) return null;
    return list[0].ResTarget.val;
  } catch {
    return null;
  }
}
