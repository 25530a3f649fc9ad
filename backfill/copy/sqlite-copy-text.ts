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
  let expr: string;
  if (c.type === 'bigint' || c.type.startsWith('numeric')) {
    expr = `CASE WHEN typeof(${col}) IN ('integer', 'real') THEN ${text} ELSE ${quoted(text)} END`;
  } else if (c.type === 'double precision') {
    expr = `CASE WHEN typeof(${col}) <> 'real' AND typeof(${col}) <> 'integer' THEN ${quoted(text)} WHEN ${col} = 9e999 THEN 'Infinity' WHEN ${col} = -9e999 THEN '-Infinity' ELSE ${text} END`;
  } else if (c.type === 'boolean') {
    expr = `CASE WHEN typeof(${col}) IN ('integer', 'real') THEN (CASE WHEN ${col} THEN 't' ELSE 'f' END) ELSE ${quoted(text)} END`;
  } else if (c.type === 'bytea') {
    expr = `'\\x' || hex(${col})`;
  } else {
    expr = quoted(text);
  }
  return `CASE WHEN ${col} IS NULL THEN '' ELSE ${expr} END`;
}

/** SELECT list item producing one CSV line (without the newline) for a row. */
export function sqliteCopyLine(columns: ColumnDef[]): string {
  return columns.map(sqliteCopyValue).join(` || ',' || `);
}
