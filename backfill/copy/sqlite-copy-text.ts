// SQLite produces PostgreSQL COPY input itself, in CSV form: one SQL
// expression per row, evaluated in SQLite's C code, so the copy costs no
// per-value work in JavaScript. CSV needs one replace() per text value (quotes
// doubled) where COPY's text format would need four. Every value keeps its
// exact meaning: integers as decimal text (64-bit exact), REAL through
// SQLite's round-trip formatting, BLOBs as bytea hex, booleans as t/f, NULL as
// an unquoted empty field (an empty string is quoted).
import type { ColumnDef } from '../schema/model.ts';
import { qi } from '../schema/model.ts';

/** The COPY options matching sqliteCopyLine's output. */
export const SQLITE_COPY_OPTIONS = '(FORMAT csv)';

const quoted = (x: string) => `'"' || replace(${x}, '"', '""') || '"'`;

export function sqliteCopyValue(c: ColumnDef): string {
  const col = qi(c.name);
  const text = `CAST(${col} AS TEXT)`;
  // NULL propagates through CAST, || and replace(): coalesce turns it into CSV's unquoted empty field.
  // Numbers go unquoted: a stray non-numeric value in a numeric column (SQLite's affinity allows
  // it) still makes COPY fail with the value named, never shifts a field silently: `cutover check`
  // reports such values beforehand.
  if (c.type === 'bigint' || c.type.startsWith('numeric') || c.type === 'double precision') {
    return `coalesce(${text}, '')`; // SQLite writes ±infinity as Inf/-Inf, which float8 input accepts
  }
  if (c.type === 'boolean') {
    return `CASE WHEN ${col} IS NULL THEN '' WHEN typeof(${col}) IN ('integer', 'real') THEN (CASE WHEN ${col} THEN 't' ELSE 'f' END) ELSE ${quoted(text)} END`;
  }
  if (c.type === 'bytea') return `CASE WHEN ${col} IS NULL THEN '' ELSE '\\x' || hex(${col}) END`;
  return `coalesce(${quoted(text)}, '')`;
}

/** SELECT list item producing one CSV line (without the newline) for a row. */
export function sqliteCopyLine(columns: ColumnDef[]): string {
  return columns.map(sqliteCopyValue).join(` || ',' || `);
}
