// History copy from a PostgreSQL source to the target, race-safe against the
// mirror: each keyset batch is read with FOR SHARE in a source transaction
// that stays open until the batch committed on the target, so a concurrent
// update or delete of those rows waits for the batch and then reaches the
// target through the mirror after it. Rows go in with ON CONFLICT DO NOTHING:
// a row the mirror already wrote is newer and wins. Memory is one batch.
import pg from 'pg';
import { pgClientConfig } from '../common/pg-config.ts';
import { listTables, qualified, type TableInfo } from '../proxy/capture/pg-capture.ts';

export interface CopyProgress {
  table: string;
  rows: number;
  done: boolean;
}

export interface CopyOptions {
  batchSize?: number;
  tables?: string[];
  onProgress?: (p: CopyProgress) => void;
}

const q = (id: string) => '"' + id.replace(/"/g, '""') + '"';
const RETRIES = 8;

export async function copyHistory(sourceUrl: string, targetUrl: string, opts: CopyOptions = {}): Promise<Record<string, number>> {
  const batch = opts.batchSize ?? 5_000;
  const src = new pg.Client(pgClientConfig(sourceUrl));
  const dst = new pg.Client(pgClientConfig(targetUrl));
  await Promise.all([src.connect(), dst.connect()]);
  const counts: Record<string, number> = {};
  try {
    await dst.query('SET session_replication_role = replica').catch(() => undefined);
    let tables = await listTables(src);
    if (opts.tables?.length) tables = tables.filter((t) => opts.tables!.includes(t.name) || opts.tables!.includes(`${t.schema}.${t.name}`));
    for (const t of tables) {
      if (!t.hasKey) throw new Error(`table ${t.schema}.${t.name} has no primary key`);
      counts[`${t.schema}.${t.name}`] = await copyTable(src, dst, t, batch, opts.onProgress);
    }
    await alignSequences(src, dst);
  } finally {
    await Promise.all([src.end(), dst.end()]);
  }
  return counts;
}

async function copyTable(src: pg.Client, dst: pg.Client, t: TableInfo, batch: number, onProgress?: (p: CopyProgress) => void): Promise<number> {
  const name = qualified(t);
  const keys = t.key.map(q).join(', ');
  let last: string | null = null; // jsonb of the last key copied
  let copied = 0;
  let attempt = 0;
  for (;;) {
    await src.query('BEGIN');
    try {
      const after: string = last ? `WHERE (${keys}) > (SELECT ${keys} FROM jsonb_populate_record(NULL::${name}, $2::jsonb))` : '';
      const r: pg.QueryResult<{ row: string; k: string }> = await src.query<{ row: string; k: string }>(
        `SELECT to_jsonb(t)::text AS row, jsonb_build_object(${t.key.map((k) => `'${k.replace(/'/g, "''")}', t.${q(k)}`).join(', ')})::text AS k
           FROM ${name} t ${after} ORDER BY ${keys} LIMIT $1 FOR SHARE`,
        last ? [batch, last] : [batch],
      );
      if (r.rows.length) {
        await dst.query(
          `INSERT INTO ${name} OVERRIDING SYSTEM VALUE SELECT * FROM jsonb_populate_recordset(NULL::${name}, $1::jsonb) ON CONFLICT DO NOTHING`,
          ['[' + r.rows.map((x: { row: string }) => x.row).join(',') + ']'],
        );
        last = r.rows[r.rows.length - 1]!.k;
        copied += r.rows.length;
      }
      // the target write is committed (autocommit) before the source lets go of the rows
      await src.query('COMMIT');
      attempt = 0;
      onProgress?.({ table: `${t.schema}.${t.name}`, rows: copied, done: r.rows.length < batch });
      if (r.rows.length < batch) return copied;
    } catch (e) {
      await src.query('ROLLBACK').catch(() => undefined);
      // Taking the batch's row locks can deadlock with a writer locking the same rows in another
      // order; the error comes before anything reached the target, so the batch is simply taken again.
      const code = (e as { code?: string }).code;
      if ((code === '40P01' || code === '40001' || code === '55P03') && attempt < RETRIES) {
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt++));
        continue;
      }
      throw e;
    }
  }
}

/** Target sequences from the source sequence's own position, never from max(key) alone. */
export async function alignSequences(src: pg.Client, dst: pg.Client): Promise<void> {
  const seqs = await src.query<{ name: string; last: string | null; called: boolean }>(
    `SELECT format('%I.%I', schemaname, sequencename) AS name, last_value::text AS last, last_value IS NOT NULL AS called
       FROM pg_sequences WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'cutover')`,
  );
  for (const s of seqs.rows) {
    if (!s.called) continue;
    await dst.query('SELECT setval($1::regclass, $2::bigint)', [s.name, s.last]);
  }
}
