// SQLite produces PostgreSQL COPY text itself: one SQL expression per row,
// evaluated in SQLite's C code, so the copy costs no per-value work in
// JavaScript. Every value keeps its exact meaning: integers as decimal text
// (64-bit exact), REAL through SQLite's round-trip formatting, BLOBs as bytea
// hex, booleans as t/f, NULL as \N; text is escaped for COPY's text format.
import type { ColumnDef } from '../schema/model.ts';
import { qi } from '../schema/model.ts';

const ESCAPED = (x: string) => `replace(replace(replace(replace(${x}, '\\', '\\\\'), char(10), '\\n'), char(13), '\\r'), char(9), '\\t')`;

export function sqliteCopyValue(c: ColumnDef): string {
  const col = qi(c.name);
  const text = `CAST(${col} AS TEXT)`;
  let expr: string;
  if (c.type === 'bigint' || c.type.startsWith('numeric')) {
    expr = `CASE typeof(${col}) WHEN 'text' THEN ${ESCAPED(col)} WHEN 'blob' THEN ${ESCAPED(text)} ELSE ${text} END`;
  } else if (c.type === 'double precision') {
    expr = `CASE WHEN typeof(${col}) <> 'real' THEN ${ESCAPED(text)} WHEN ${col} = 9e999 THEN 'Infinity' WHEN ${col} = -9e999 THEN '-Infinity' ELSE ${text} END`;
  } else if (c.type === 'boolean') {
    expr = `CASE WHEN typeof(${col}) IN ('integer', 'real') THEN (CASE WHEN ${col} THEN 't' ELSE 'f' END) ELSE ${ESCAPED(text)} END`;
  } else if (c.type === 'bytea') {
    // a doubled backslash in COPY text is one backslash: bytea's \x hex form
    expr = `'\\\\x' || hex(${col})`;
  } else {
    expr = ESCAPED(text);
  }
  return `CASE WHEN ${col} IS NULL THEN '\\N' ELSE ${expr} END`;
}

/** SELECT list item producing one COPY line (without the newline) for a row. */
export function sqliteCopyLine(columns: ColumnDef[]): string {
  return columns.map(sqliteCopyValue).join(` || char(9) || `);
}
