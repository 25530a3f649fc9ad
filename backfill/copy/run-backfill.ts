// The backfill: every table copied in key order, in batches, by a few workers
// (one table each at a time), with per-table checkpoints, retries of
// transient failures and a rows/s cap; then target sequences are moved past
// the source's, and the foreign keys and secondary indexes are created.
// Memory is bounded by batch size × workers, whatever the table size.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { pgClientConfig } from '../../common/pg-config.ts';
import { parseDbUrl, redactUrl } from '../../common/urls.ts';
import { openCheckpoints, type Checkpoint, type CheckpointStore } from '../checkpoints.ts';
import type { SchemaPlan, TableDef } from '../schema/model.ts';
import { copiedColumns, qi, qualifiedName, tableLabel } from '../schema/model.ts';
import { readSourceSchema } from '../schema/read-source.ts';
import { PostCopy } from '../schema/post-copy.ts';
import { decodeKey, encodeKey, keyText, type Key } from './keys.ts';
import { PgBatchReader, rangeOf } from './pg-source.ts';
import { backoffMs, isTransient, RateLimiter } from './retry.ts';
import { alignSequences } from './sequences.ts';
import { openSqlite, SqliteBatchReader, SqliteLockEpochs } from './sqlite-source.ts';
import { TargetWriter } from './target-writer.ts';
import { addKeySql, dropKey, keyName, KeylessError, targetKeyState, trimPast, type KeyState } from './keyless-load.ts';
import { CHANGES as SQLITE_CHANGES } from '../../proxy/capture/sqlite-capture.ts';
import { SCHEMA as PG_CAPTURE_SCHEMA } from '../../proxy/capture/pg-capture.ts';

export interface BackfillOptions {
  source: string;
  target: string;
  state: string;
  tables?: string[];
  batchSize: number;
  workers: number;
  maxRate: number;
  retryAttempts: number;
  resume: boolean;
  /** Bytes of COPY text per SQLite batch at most (large rows make smaller batches). */
  maxBatchBytes?: number;
  onEvent?: (e: BackfillEvent) => void;
}

export type BackfillEvent =
  | { event: 'start'; table: string; total: number; resumedAt: number }
  | { event: 'progress'; table: string; rows: number; total: number }
  | { event: 'done'; table: string; rows: number; seconds: number }
  | { event: 'retry'; table: string; attempt: number; error: string }
  | { event: 'warning'; message: string };

export interface BackfillResult {
  /** Whether change capture was installed on the source, so the copy ran race-safe against the mirror. */
  captured: boolean;
  warnings: string[];
  tables: { table: string; rows: number; seconds: number; skipped?: boolean }[];
  rows: number;
  seconds: number;
  postCopy: string[];
}

export class BackfillError extends Error {}

/** Checkpoints belong to one source → target pair. */
function runId(source: string, target: string): string {
  return createHash('sha256').update(redactUrl(source) + '\0' + redactUrl(target)).digest('hex').slice(0, 16);
}

export async function runBackfill(o: BackfillOptions): Promise<BackfillResult> {
  const started = Date.now();
  const src = parseDbUrl(o.source, 'source');
  if (parseDbUrl(o.target, 'target').kind !== 'postgres') throw new BackfillError('target: must be a PostgreSQL database');
  const plan = await readSourceSchema(o.source, o.tables, false);
  if (o.tables?.length) {
    const unknown = o.tables.filter((n) => !plan.tables.some((t) => tableLabel(t) === n || t.name === n || `${t.schema}.${t.name}` === n));
    if (unknown.length) throw new BackfillError(`no such table on the source: ${unknown.join(', ')}`);
  }
  const keyless = plan.tables.filter((t) => !t.key.length);
  if (keyless.length) throw new BackfillError(`tables without a primary key cannot be copied in key order: ${keyless.map(tableLabel).join(', ')}`);
  await checkTargetTables(o.target, plan);

  // Without capture nothing mirrors: there is no writer to race, so batches need no source lock
  // (and the copy is only a snapshot: later writes never reach the target, which the operator is told).
  const captured = await captureInstalled(o.source);
  const warnings = captured ? [] : ['change capture is not installed on the source: this copy is a snapshot, and writes made during or after it will not reach the target (run `cutover capture install` first for a live migration)'];
  for (const message of warnings) o.onEvent?.({ event: 'warning', message });
  const store = openCheckpoints(o.state);
  const run = runId(o.source, o.target);
  try {
    if (!o.resume) await store.clear(run);
    const checkpoints = await store.load(run);
    const limiter = new RateLimiter(o.maxRate);
    const epochs = src.kind === 'sqlite' && captured ? new SqliteLockEpochs(src.path) : null;
    const sizes = new Map(await Promise.all(plan.tables.map(async (t) => [tableLabel(t), await countRows(sourceRef(o, src, null), t)] as const)));
    // largest first: the small tables fill in beside it, and the last to finish is a short one
    const queue = [...plan.tables].sort((a, b) => (sizes.get(tableLabel(b)) ?? 0) - (sizes.get(tableLabel(a)) ?? 0));
    const results: BackfillResult['tables'] = [];
    // the full schema (constraints, indexes) is parsed while the copy runs
    const post = new PostCopy(o.target, readSourceSchema(o.source, o.tables));
    const keys = await targetKeyStates(o.target, plan);
    const worker = async () => {
      for (let t = queue.shift(); t; t = queue.shift()) {
        const cp = checkpoints.get(tableLabel(t));
        const key = keys.get(tableLabel(t))!;
        if (cp?.done) {
          // an interrupted keyless load that had copied everything: only its key is missing
          if (!key.name) post.restoreKey(t, keyName(t, null));
          results.push({ table: tableLabel(t), rows: cp.rows, seconds: 0, skipped: true });
        } else {
          results.push(await copyTable(o, sourceRef(o, src, epochs, captured), t, cp ?? null, store, run, limiter, sizes.get(tableLabel(t)) ?? 0, { captured, key, post }));
        }
        post.tableCopied(tableLabel(t));
      }
    };
    let postCopy: string[];
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(o.workers, plan.tables.length)) }, worker));
      await alignSequences(o.source, o.target, plan);
      postCopy = await post.finish();
    } finally {
      epochs?.close();
      await post.close();
    }
    results.sort((a, b) => a.table.localeCompare(b.table));
    return { captured, warnings, tables: results, rows: results.reduce((a, r) => a + r.rows, 0), seconds: (Date.now() - started) / 1000, postCopy };
  } finally {
    await store.close();
  }
}

async function checkTargetTables(target: string, plan: SchemaPlan): Promise<void> {
  const c = new pg.Client(pgClientConfig(target));
  await c.connect();
  try {
    for (const t of plan.tables) {
      const r = await c.query<{ attname: string }>(
        `SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, [qualifiedName(t)]);
      if (!r.rows.length) throw new BackfillError(`target table ${tableLabel(t)} does not exist: run \`cutover schema --apply\` first`);
      const have = new Set(r.rows.map((x) => x.attname));
      const missing = copiedColumns(t).filter((col) => !have.has(col.name)).map((col) => col.name);
      if (missing.length) throw new BackfillError(`target table ${tableLabel(t)} lacks column(s) ${missing.join(', ')}`);
    }
  } finally {
    await c.end();
  }
}

type SourceRef = { kind: 'sqlite'; path: string; epochs: SqliteLockEpochs | null } | { kind: 'postgres'; url: string; lock: boolean };

function sourceRef(o: BackfillOptions, src: ReturnType<typeof parseDbUrl>, epochs: SqliteLockEpochs | null, captured = false): SourceRef {
  return src.kind === 'sqlite' ? { kind: 'sqlite', path: src.path, epochs } : { kind: 'postgres', url: o.source, lock: captured };
}


async function targetKeyStates(target: string, plan: SchemaPlan): Promise<Map<string, KeyState>> {
  const c = new pg.Client(pgClientConfig(target));
  await c.connect();
  try {
    const out = new Map<string, KeyState>();
    for (const t of plan.tables) out.set(tableLabel(t), await targetKeyState(c, t));
    return out;
  } finally {
    await c.end();
  }
}

/**
 * Whether the table loads without its primary key (keyless-load.ts): only a
 * snapshot into an empty table, or the resumption of such a load. A live
 * copy (capture installed) needs the key, for the mirror's upserts, before
 * its first batch.
 */
async function chooseKeyless(o: BackfillOptions, c: pg.Client, t: TableDef, after: Key | null, m: CopyMode): Promise<boolean> {
  const past = after ? rangeOf(t, keyText(after), null) : null;
  if (!m.key.name) {
    if (!o.resume && !m.key.empty) throw new BackfillError(new KeylessError(t, 'holds rows').message);
    await trimPast(c, t, past);
    if (m.captured) {
      await c.query(addKeySql(t, keyName(t, null)));
      return false;
    }
    m.post.restoreKey(t, keyName(t, null));
    return true;
  }
  if (m.captured || !m.key.empty || after) return false;
  if (!(await dropKey(c, t, m.key.name))) return false;
  m.post.restoreKey(t, m.key.name);
  return true;
}

interface CopyMode {
  captured: boolean;
  key: KeyState;
  post: PostCopy;
}

async function copyTable(o: BackfillOptions, src: SourceRef, t: TableDef, cp: Checkpoint | null, store: CheckpointStore, run: string, limiter: RateLimiter, total: number, mode: CopyMode) {
  const label = tableLabel(t);
  const tableStarted = Date.now();
  let rows = cp?.rows ?? 0;
  let after: Key | null = cp?.lastKey ? decodeKey(cp.lastKey) : null;
  o.onEvent?.({ event: 'start', table: label, total, resumedAt: rows });
  let writers: TargetWriter[] = [];
  let pgReader: PgBatchReader | null = null;
  const sqlite = src.kind === 'sqlite' ? new SqliteBatchReader(openSqlite(src.path)) : null;
  const reconnect = async () => {
    await Promise.all([...writers.map((w) => w.end()), pgReader?.end()]);
    // SQLite batches are read while the previous one is written: two target sessions
    writers = Array.from({ length: src.kind === 'sqlite' ? 2 : 1 }, () => new TargetWriter(o.target));
    await Promise.all(writers.map((w) => w.connect()));
    if (src.kind === 'postgres') {
      pgReader = new PgBatchReader(src.url);
      await pgReader.connect();
    }
  };
  let lastEvent = 0;
  try {
    await reconnect();
    const keyless = await chooseKeyless(o, writers[0]!.client, t, after, mode);
    let trim = false;
    for (let attempt = 0; ; ) {
      let copied: { rows: number; last: Key | null; more: boolean };
      try {
        // a failed attempt may have committed some of its batches: without the key index they would be doubled
        if (trim) await trimPast(writers[0]!.client, t, after ? rangeOf(t, keyText(after), null) : null);
        trim = false;
        copied = sqlite
          ? await sqliteBatch(limiter, (src as { epochs: SqliteLockEpochs | null }).epochs, sqlite, writers, t, after, o.batchSize, o.maxBatchBytes ?? 8 << 20, keyless)
          : await pgBatch(pgReader!, writers[0]!, t, after, o.batchSize, (src as { lock: boolean }).lock, keyless);
        attempt = 0;
      } catch (e) {
        if (!isTransient(e) || attempt >= o.retryAttempts) {
          throw new BackfillError(`${label}: batch after key ${after ? keyText(after).join(', ') : '(start)'} failed: ${(e as Error).message}`);
        }
        o.onEvent?.({ event: 'retry', table: label, attempt: attempt + 1, error: (e as Error).message });
        trim = keyless;
        await new Promise((r) => setTimeout(r, backoffMs(attempt++)));
        await reconnect().catch(() => undefined);
        continue;
      }
      rows += copied.rows;
      if (copied.last) after = copied.last;
      const done = !copied.more;
      await store.save(run, { table: label, lastKey: after ? encodeKey(after) : null, rows, done, updatedAt: new Date().toISOString() });
      if (done || Date.now() - lastEvent > 250) {
        lastEvent = Date.now();
        o.onEvent?.({ event: 'progress', table: label, rows, total: Math.max(total, rows) });
      }
      if (done) break;
      await limiter.take(copied.rows);
    }
  } finally {
    await Promise.all([...writers.map((w) => w.end()), (pgReader as PgBatchReader | null)?.end()]);
    sqlite?.db.close();
  }
  const seconds = (Date.now() - tableStarted) / 1000;
  o.onEvent?.({ event: 'done', table: label, rows, seconds });
  return { table: label, rows, seconds };
}

/**
 * Batches read inside one epoch of the shared write lock: the next batch is
 * read while the target ingests the previous one on the other connection, and
 * the worker leaves the epoch only once the target committed every batch it
 * read under it (only then may writers change those rows).
 */
async function sqliteBatch(limiter: RateLimiter, epochs: SqliteLockEpochs | null, r: SqliteBatchReader, w: TargetWriter[], t: TableDef, after: Key | null, limit: number, maxBytes: number, keyless: boolean) {
  await epochs?.enter();
  const started = Date.now();
  const inFlight: Promise<number>[] = [];
  let rows = 0;
  let last = after;
  let more = true;
  try {
    for (let i = 0; more && (i === 0 || (epochs ? epochs.fresh : Date.now() - started < SqliteLockEpochs.HOLD_MS)); i++) {
      // the rate cap is honoured between batches, never by sleeping while the lock is held
      if (i > 0 && limiter.over(rows)) break;
      const b = await r.read(t, last, limit, maxBytes);
      more = b.full;
      if (!b.rows) break;
      if (inFlight.length >= w.length) await inFlight[inFlight.length - w.length];
      const write = w[i % w.length]!.writeBatch(t, b.text, keyless ? null : rangeOf(t, last ? keyText(last) : null, keyText(b.last!)));
      // a write may fail while the next batch is being read: handled when awaited, never unhandled
      write.catch(() => undefined);
      inFlight.push(write);
      rows += b.rows;
      last = b.last;
    }
    await Promise.all(inFlight);
    return { rows, last, more };
  } finally {
    await Promise.allSettled(inFlight);
    epochs?.leave();
  }
}

async function pgBatch(r: PgBatchReader, w: TargetWriter, t: TableDef, after: Key | null, limit: number, lock: boolean, keyless: boolean) {
  const lo = after ? (after as string[]) : null;
  await r.client.query('BEGIN');
  try {
    const hi = await r.upperBound(t, lo, limit);
    const n = await w.writeBatch(t, r.rows(t, lo, hi, lock), keyless ? null : rangeOf(t, lo, hi));
    await r.client.query('COMMIT');
    return { rows: n, last: hi, more: hi !== null };
  } catch (e) {
    await r.client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

async function countRows(src: SourceRef, t: TableDef): Promise<number> {
  if (src.kind === 'sqlite') {
    const db = openSqlite(src.path, true);
    try {
      return Number(db.prepare(`SELECT count(*) FROM ${qi(t.name)}`).pluck().get());
    } finally {
      db.close();
    }
  }
  const c = new pg.Client(pgClientConfig(src.url));
  await c.connect();
  try {
    // the planner's estimate: counting a big table would cost a full scan
    const r = await c.query<{ n: string }>(`SELECT GREATEST(reltuples, 0)::bigint::text AS n FROM pg_class WHERE oid = $1::regclass`, [qualifiedName(t)]);
    const est = Number(r.rows[0]?.n ?? 0);
    if (est > 0) return est;
    const exact = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qualifiedName(t)}`);
    return Number(exact.rows[0]!.n);
  } finally {
    await c.end();
  }
}

/** The backfill as a library call (tests, the demo): no checkpoints kept, counts per table. */
export async function copyHistory(source: string, target: string, opts: { batchSize?: number; workers?: number; tables?: string[] } = {}): Promise<Record<string, number>> {
  const res = await runBackfill({
    source, target, state: ':memory:', tables: opts.tables, batchSize: opts.batchSize ?? 10_000, workers: opts.workers ?? 2, maxRate: 0, retryAttempts: 3, resume: false,
  });
  return Object.fromEntries(res.tables.map((t) => [t.table.includes('.') ? t.table : `public.${t.table}`, t.rows]));
}

async function captureInstalled(url: string): Promise<boolean> {
  const src = parseDbUrl(url, 'source');
  if (src.kind === 'sqlite') {
    const db = openSqlite(src.path, true);
    try {
      return Boolean(db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(SQLITE_CHANGES));
    } finally {
      db.close();
    }
  }
  const c = new pg.Client(pgClientConfig(url));
  await c.connect();
  try {
    return (await c.query(`SELECT to_regclass($1) IS NOT NULL AS x`, [`${PG_CAPTURE_SCHEMA}.changes`])).rows[0].x as boolean;
  } finally {
    await c.end();
  }
}
