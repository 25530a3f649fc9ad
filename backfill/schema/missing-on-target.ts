// What the new database has of the source's tables: each table's columns
// there (`cutover check` compares their types), and the keyed tables it cannot
// take as they are (absent, or without some of the source's columns). Capture
// must not start over such a target: every write to those tables would fail
// to apply before its commit, recorded dirty, and trip reads (`cutover run`
// has no schema stage; the operator runs `cutover schema --apply` first).
import pg from 'pg';
import { pgClient } from '../../common/pg-config.ts';
import { readSourceSchema } from './read-source.ts';
import { qualifiedName, tableLabel, type TableDef } from './model.ts';

export type TargetCols = Map<string, { type: string; notNull: boolean }>;

/** The target table's columns by name; null when the target has no such table. */
export async function targetColumns(target: pg.Client, t: TableDef): Promise<TargetCols | null> {
  const r = await target.query<{ name: string; type: string; notnull: boolean }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS notnull FROM pg_attribute
      WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, [qualifiedName(t)]);
  return r.rows.length ? new Map(r.rows.map((c) => [c.name, { type: c.type, notNull: c.notnull }])) : null;
}

export async function missingOnTarget(source: string, target: string, only?: string[]): Promise<string[]> {
  const plan = await readSourceSchema(source, only, false);
  const c = pgClient(target);
  await c.connect();
  try {
    const out: string[] = [];
    for (const t of plan.tables) {
      if (!t.key.length) continue; // capture refuses a keyless table itself, naming it
      const have = await targetColumns(c, t);
      const lacking = t.columns.filter((col) => !col.generated && !have?.has(col.name)).map((col) => col.name);
      if (!have) out.push(`${tableLabel(t)} (not on the new database)`);
      else if (lacking.length) out.push(`${tableLabel(t)} (lacks ${lacking.join(', ')})`);
    }
    return out;
  } finally {
    await c.end();
  }
}

export const missingMessage = (missing: string[]): string =>
  `capture install: the new database cannot take every captured table: ${missing.join(', ')}; run \`cutover schema --apply\` first`;
