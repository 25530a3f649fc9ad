// An independent comparison of two PostgreSQL databases: every table dumped in
// key order (as text, by the server itself) and hashed on each side.
import { createHash } from 'node:crypto';
import { pgClient } from '../common/pg-config.ts';

export interface TableDiff {
  table: string;
  equal: boolean;
  rows: [number, number];
}

async function tableHashes(url: string, tables: string[]): Promise<Map<string, { hash: string; rows: number }>> {
  const c = pgClient(url);
  await c.connect();
  try {
    const out = new Map<string, { hash: string; rows: number }>();
    for (const t of tables) {
      const key = await c.query<{ cols: string }>(
        `SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY array_position(i.indkey::int2[], a.attnum)) AS cols
           FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
          WHERE i.indrelid = $1::regclass AND i.indisprimary`, [t]);
      const r = await c.query<{ line: string }>(`SELECT t::text AS line FROM ${t} t ORDER BY ${key.rows[0]?.cols ?? '1'}`);
      const h = createHash('sha256');
      for (const row of r.rows) h.update(row.line + '\n');
      out.set(t, { hash: h.digest('hex'), rows: r.rows.length });
    }
    return out;
  } finally {
    await c.end();
  }
}

export async function compareDatabases(aUrl: string, bUrl: string, tables: string[]): Promise<TableDiff[]> {
  const [a, b] = await Promise.all([tableHashes(aUrl, tables), tableHashes(bUrl, tables)]);
  return tables.map((t) => ({ table: t, equal: a.get(t)!.hash === b.get(t)!.hash, rows: [a.get(t)!.rows, b.get(t)!.rows] }));
}
