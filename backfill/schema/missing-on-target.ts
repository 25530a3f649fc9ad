// The source's keyed tables the new database cannot take as they are: absent,
// or without some of the source's columns. Capture must not start over such a
// target: every write to those tables would fail to apply before its commit,
// recorded dirty, and trip reads (`cutover run` has no schema stage; the
// operator runs `cutover schema --apply` first).
import pg from 'pg';
import { pgClientConfig } from '../../common/pg-config.ts';
import { readSourceSchema } from './read-source.ts';
import { tableLabel } from './model.ts';

export async function missingOnTarget(source: string, target: string, only?: string[]): Promise<string[]> {
  const plan = await readSourceSchema(source, only, false);
  const c = new pg.Client(pgClientConfig(target));
  await c.connect();
  try {
    const out: string[] = [];
    for (const t of plan.tables) {
      if (!t.key.length) continue; // capture refuses a keyless table itself, naming it
      const r = await c.query<{ name: string }>('SELECT attname AS name FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped', [`"${t.schema.replace(/"/g, '""')}"."${t.name.replace(/"/g, '""')}"`]);
      const have = new Set(r.rows.map((x) => x.name));
      const lacking = t.columns.filter((col) => !col.generated && !have.has(col.name)).map((col) => col.name);
      if (!r.rows.length) out.push(`${tableLabel(t)} (not on the new database)`);
      else if (lacking.length) out.push(`${tableLabel(t)} (lacks ${lacking.join(', ')})`);
    }
    return out;
  } finally {
    await c.end();
  }
}

export const missingMessage = (missing: string[]): string =>
  `capture install: the new database cannot take every captured table: ${missing.join(', ')}; run \`cutover schema --apply\` first`;
