// Target sequences moved past the source's own position before anyone writes
// to the target on its own: from the source sequence's last_value (PostgreSQL)
// or from SQLite's sqlite_sequence and the rowid high-water mark, and never
// below what the target already handed out.
import pg from 'pg';
import { pgClient } from '../../common/pg-config.ts';
import { parseDbUrl } from '../../common/urls.ts';
import { isUserSchema } from '../../proxy/capture/pg-capture.ts';
import type { SchemaPlan } from '../schema/model.ts';
import { qi, qualifiedName } from '../schema/model.ts';
import { openSqlite } from './sqlite-source.ts';

export async function alignSequences(sourceUrl: string, targetUrl: string, plan: SchemaPlan): Promise<number> {
  const src = parseDbUrl(sourceUrl, 'source');
  const dst = pgClient(targetUrl);
  await dst.connect();
  let n = 0;
  try {
    if (src.kind === 'sqlite') {
      const db = openSqlite(src.path, true);
      try {
        const hasSeq = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'`).get();
        for (const t of plan.tables) {
          const col = t.columns.find((c) => c.identity);
          if (!col) continue;
          const max = db.prepare(`SELECT max(${qi(col.name)}) FROM ${qi(t.name)}`).pluck().get() as bigint | null;
          const seq = hasSeq ? (db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = ?`).pluck().get(t.name) as bigint | undefined) : undefined;
          const high = [max ?? 0n, seq ?? 0n].reduce((a, b) => (b > a ? b : a), 0n);
          if (high > 0n) n += await setAtLeast(dst, qualifiedName(t), col.name, high.toString());
        }
      } finally {
        db.close();
      }
      return n;
    }
    const s = pgClient(sourceUrl);
    await s.connect();
    try {
      const seqs = await s.query<{ name: string; last: string | null }>(
        `SELECT format('%I.%I', schemaname, sequencename) AS name, last_value::text AS last FROM pg_sequences
          WHERE ${isUserSchema('schemaname')} AND last_value IS NOT NULL`);
      for (const q of seqs.rows) {
        const exists = await dst.query(`SELECT to_regclass($1) IS NOT NULL AS x`, [q.name]);
        if (!exists.rows[0].x) continue;
        await dst.query(`SELECT setval($1::regclass, GREATEST($2::bigint, (SELECT last_value FROM ${q.name})))`, [q.name, q.last]);
        n++;
      }
      return n;
    } finally {
      await s.end();
    }
  } finally {
    await dst.end();
  }
}

async function setAtLeast(dst: pg.Client, table: string, column: string, value: string): Promise<number> {
  const seq = await dst.query<{ s: string | null }>(`SELECT pg_get_serial_sequence($1, $2) AS s`, [table, column]);
  const name = seq.rows[0]?.s;
  if (!name) return 0;
  await dst.query(`SELECT setval($1::regclass, GREATEST($2::bigint, (SELECT last_value FROM ${name})))`, [name, value]);
  return 1;
}
