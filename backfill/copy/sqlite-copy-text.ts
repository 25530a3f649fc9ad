// SQLite produces PostgreSQL COPY input itself, in CSV form: one SQL
// expression per row, evaluated in SQLite's C code, so the copy costs no
// per-value work in JavaScript. The row is one format() call: its %w doubles
// the double quotes of a text value in the same pass that places it, where
// `'"' || replace(x) || '"' || ','` would copy the growing line once per
// column. Every value keeps its exact meaning: integers as decimal text
// (64-bit exact), REAL through SQLite's round-trip formatting, BLOBs as bytea
// hex, booleans as t/f, NULL as an unquoted empty field (an empty string is
// quoted).
import type Database from 'better-sqlite3';
import type { ColumnDef } from '../schema/model.ts';
import { qi } from '../schema/model.ts';

/** Whether the file keeps its text as UTF-8 (its bytes are then COPY's own encoding), not UTF-16. */
export const isUtf8File = (db: Database.Database): boolean => String(db.pragma('encoding', { simple: true })).toUpperCase() === 'UTF-8';

/** The COPY options matching sqliteCopyLine's output. */
export const SQLITE_COPY_OPTIONS = '(FORMAT csv)';

/** format() takes at most SQLITE_MAX_FUNCTION_ARG (127 by default) arguments. */
const MAX_FORMAT_COLUMNS = 120;

const quoted = (x: string) => `'"' || replace(${x}, '"', '""') || '"'`;

const isNumeric = (c: ColumnDef) => c.type === 'bigint' || c.type.startsWith('numeric') || c.type === 'double precision';

/** One CSV field as an SQL expression (the general form, for any column). */
export function sqliteCopyValue(c: ColumnDef): string {
  const col = qi(c.name);
  const text = `CAST(${col} AS TEXT)`;
  // NULL propagates through CAST, || and replace(): coalesce turns it into CSV's unquoted empty field.
  // Numbers go unquoted: a stray non-numeric value in a numeric column (SQLite's affinity allows
  // it) still makes COPY fail with the value named, never shifts a field silently: `cutover check`
  // reports such values beforehand.
  if (isNumeric(c)) return `coalesce(${text}, '')`; // SQLite writes ±infinity as Inf/-Inf, which float8 input accepts
  if (c.type === 'boolean') {
    return `CASE WHEN ${col} IS NULL THEN '' WHEN typeof(${col}) IN ('integer', 'real') THEN (CASE WHEN ${col} THEN 't' ELSE 'f' END) ELSE ${quoted(text)} END`;
  }
  if (c.type === 'bytea') return `CASE WHEN ${col} IS NULL THEN '' ELSE '\\x' || hex(${col}) END`;
  return `coalesce(${quoted(text)}, '')`;
}

/**
 * A format() directive and its argument for one column. %s renders a value
 * as CAST(… AS TEXT) would (an integer as its digits, a REAL round-trip, text
 * as is), never coercing: %d would turn a stray 'abc' in an INTEGER column
 * into 0. NULL renders as '' under %s; text that is never NULL is quoted by
 * the format string itself ("%w"), text that may be NULL goes through the
 * general form so NULL stays distinct from ''.
 */
function directive(c: ColumnDef): [string, string] {
  const col = qi(c.name);
  if (isNumeric(c)) return ['%s', col];
  if (c.type === 'boolean' || c.type === 'bytea') return ['%s', sqliteCopyValue(c)];
  if (c.sourceNotNull) return ['"%w"', col];
  return ['%s', sqliteCopyValue(c)];
}

/** SELECT list item producing one CSV line (without the newline) for a row. */
export function sqliteCopyLine(columns: ColumnDef[]): string {
  if (!columns.length) return `''`;
  if (columns.length > MAX_FORMAT_COLUMNS) return columns.map(sqliteCopyValue).join(` || ',' || `);
  const parts = columns.map(directive);
  return `format('${parts.map((p) => p[0]).join(',')}', ${parts.map((p) => p[1]).join(', ')})`;
}
