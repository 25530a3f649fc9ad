// SQLite binds at most 32766 values to one statement (the limit better-sqlite3
// is built with); PostgreSQL takes 65535 parameters, and a bulk INSERT of many
// rows (postgres.js's sql(rows), an ORM's batch) or a long IN list passes
// SQLite's limit. The translated statement binds the client's parameters and
// the constants hoisted out of its text ($1 … $n). Past the limit its values
// are written into the text instead, each as the literal of exactly what
// binding it would have given SQLite (a JavaScript number binds as a REAL, a
// bigint as an INTEGER), so the statement stores and answers the same.
import type { SqlValue } from './types.ts';

export const SQLITE_MAX_VARIABLES = 32766;

/** The SQLite literal that stands for the bound value `v`. */
export function sqliteLiteral(v: SqlValue | undefined): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'bigint') return v < 0n ? `(${v})` : String(v);
  if (typeof v === 'number') {
    // a double bound is NULL when NaN (sqlite3_bind_double)
    if (Number.isNaN(v)) return 'NULL';
    if (!Number.isFinite(v)) return v > 0 ? '9e999' : '(-9e999)';
    const text = Object.is(v, -0) ? '-0.0' : String(v);
    const real = /[.e]/.test(text) ? text : `${text}.0`;
    return v < 0 || Object.is(v, -0) ? `(${real})` : real;
  }
  if (typeof v === 'string') return `'${v.replace(/'/g, "''")}'`;
  return `X'${v.toString('hex')}'`;
}

/** Where the quoted token opened by `open` at `i` ends (the index after it). */
function skipQuoted(sql: string, i: number, close: string): number {
  for (let j = i + 1; j < sql.length; j++) {
    if (sql[j] !== close) continue;
    // a doubled quote is one quote character inside the token
    if (close !== ']' && sql[j + 1] === close) j++;
    else return j + 1;
  }
  return sql.length;
}

/**
 * `sql` (a translated statement) with each parameter `$n` outside quoted
 * strings, identifiers and comments replaced by the literal of `value(n)`.
 */
export function inlineValues(sql: string, value: (n: number) => SqlValue | undefined): string {
  const out: string[] = [];
  let from = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"' || c === '`') i = skipQuoted(sql, i, c);
    else if (c === '[') i = skipQuoted(sql, i, ']');
    else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === '$' && sql.charCodeAt(i + 1) >= 48 && sql.charCodeAt(i + 1) <= 57) {
      let j = i + 1;
      while (j < sql.length && sql.charCodeAt(j) >= 48 && sql.charCodeAt(j) <= 57) j++;
      out.push(sql.slice(from, i), sqliteLiteral(value(Number(sql.slice(i + 1, j)))));
      from = i = j;
    } else i++;
  }
  out.push(sql.slice(from));
  return out.join('');
}
