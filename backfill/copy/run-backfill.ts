// The backfill: every table copied in key order, in batches, by a few workers
// (one key range each at a time: a big table is split so the workers share
// it), with per-range checkpoints, retries of transient failures and a rows/s
// cap; then target sequences are moved past the source's, and the keys,
// foreign keys and secondary indexes are built as each table is in.
// Memory is bounded by batch size × workers, whatever the table size.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { pgClient } from '../../common/pg-config.ts';
import { parseDbUrl, redactUrl } from '../../common/urls.ts';
import { openCheckpoints, type Checkpoint, type CheckpointStore } from '../checkpoints.ts';
import type { SchemaPlan, TableDef } from '../schema/model.ts';
import { copiedColumns, qualifiedName, tableLabel } from '../schema/model.ts';
import { readSourceSchema } from '../schema/read-source.ts';
import { PostCopy } from '../schema/post-copy.ts';
import { copyRange, RangeFailed, type RangeJob, type SourceRef } from './copy-range.ts';
import { decodeKey, keyText, type Key } from './keys.ts';
import { addKeySql, dropKey, keyName, KeylessError, keyOrderDiffers, targetKeyState, trimPast, type KeyState } from './keyless-load.ts';
import { rangeOf } from './pg-source.ts';
import { RateLimiter } from './retry.ts';
import { alignSequences } from './sequences.ts';
import { MIN_RANGE_ROWS, rangesOf, savedSplits, saveSplits, splitKeys, type KeyRange } from './splits.ts';
import { openSqlite, SqliteLockEpochs, sqliteTableStats, type SqliteTableStats } from './sqlite-source.ts';
import { checkPositions, rowidLabel, rowidOrderPays, trimRowidSpan } from './rowid-order.ts';
import { CHANGES as SQLITE_CHANGES } from '../../proxy/capture/sqlite-capture.ts';
import { SCHEMA as PG_CAPTURE_SCHEMA } from '../../proxy/capture/pg-capture.ts';

export interface BackfillOptions {
  source: string;
  target: string;
  state: string;
  tables?: string[];
  batchSize: number;
  workers: number;
  /** Rows per key range at least, when a table is split among the workers (default MIN_RANGE_ROWS). */
  splitRows?: number;
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
  // told once the checkpoints open: a --state that cannot be opened is the one line a refused backfill prints
  const store = openCheckpoints(o.state);
  for (const message of warnings) o.onEvent?.({ event: 'warning', message });
  const run = runId(o.source, o.target);
  try {
    if (!o.resume) await store.clear(run);
    const checkpoints = await store.load(run);
    const limiter = new RateLimiter(o.maxRate);
    const epochs = src.kind === 'sqlite' && captured ? new SqliteLockEpochs(src.path) : null;
    const stats = src.kind === 'sqlite' ? sqliteStats(src.path, plan) : null;
    const ref: SourceRef = src.kind === 'sqlite' ? { kind: 'sqlite', path: src.path, epochs, stats: stats! } : { kind: 'postgres', url: o.source, lock: captured };
    const sizes = new Map(await Promise.all(plan.tables.map(async (t) => [tableLabel(t), stats ? stats.get(t.name)!.rows : await countRows(o.source, t)] as const)));
    const results: BackfillResult['tables'] = [];
    // the full schema (constraints, indexes) is parsed while the copy runs
    const post = new PostCopy(o.target, () => readSourceSchema(o.source, o.tables));
    const jobs: Job[] = [];
    try {
      const target = pgClient(o.target);
      await target.connect();
      try {
        // largest first: the small tables fill in beside it, and the last to finish is a short one
        for (const t of [...plan.tables].sort((a, b) => (sizes.get(tableLabel(b)) ?? 0) - (sizes.get(tableLabel(a)) ?? 0))) {
          const label = tableLabel(t);
          const cp = checkpoints.get(label);
          const key = await targetKeyState(target, t);
          if (cp?.done) {
            // an interrupted keyless load that had copied everything: only its key is missing
            if (!key.name) post.restoreKey(t, keyName(t, null));
            results.push({ table: label, rows: cp.rows, seconds: 0, skipped: true });
            post.tableCopied(label);
            continue;
          }
          const byRowid = await rowidOrder(ref, t, key, captured, checkpoints, store, run);
          const ranges = (await planRanges(o, ref, t, sizes.get(label) ?? 0, checkpoints, store, run, byRowid)).map((r) => {
            const c = checkpoints.get(r.label);
            return { range: r, after: c?.lastKey ? decodeKey(c.lastKey) : r.lo, rows: c?.rows ?? 0, done: Boolean(c?.done) };
          });
          const open = ranges.filter((r) => !r.done);
          const trimOpen = () => trimPastCheckpoints(target, ref, t, open, byRowid);
          // a load read by rowid goes in with bare COPY even when its key stayed (trimmed first, it cannot double a row)
          const orderDiffers = () => sourceKeyOrderDiffers(ref, target, t);
          const isKeyless = (await prepareKey(o, target, t, key, captured, post, trimOpen, byRowid, orderDiffers)) || byRowid;
          const table = new TableRun(t, sizes.get(label) ?? 0, ranges, o, store, run, (r) => {
            results.push(r);
            post.tableCopied(label);
          });
          for (const r of open) jobs.push({ job: { t, range: r.range, after: r.after, keyless: isKeyless, byRowid }, rows: r.rows, table });
          await table.finishIfDone();
        }
      } finally {
        await target.end();
      }
      const worker = async () => {
        for (let j = jobs.shift(); j; j = jobs.shift()) await runJob(ref, j, o, limiter, store, run);
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(o.workers, jobs.length)) }, worker));
      await alignSequences(o.source, o.target, plan);
      const postCopy = await post.finish();
      results.sort((a, b) => a.table.localeCompare(b.table));
      return { captured, warnings, tables: results, rows: results.reduce((a, r) => a + r.rows, 0), seconds: (Date.now() - started) / 1000, postCopy };
    } finally {
      epochs?.close();
      await post.close();
    }
  } finally {
    await store.close();
  }
}

interface Job {
  job: RangeJob;
  /** Rows this range had copied before this run (its checkpoint). */
  rows: number;
  table: TableRun;
}

async function runJob(ref: SourceRef, j: Job, o: BackfillOptions, limiter: RateLimiter, store: CheckpointStore, run: string): Promise<void> {
  j.table.rangeStarted();
  try {
    await copyRange(ref, j.job, j.rows, {
      target: o.target, batchSize: o.batchSize, maxBatchBytes: o.maxBatchBytes ?? 8 << 20, retryAttempts: o.retryAttempts, limiter, store, run,
      onBatch: (rows, done) => j.table.batch(rows, done),
      onRetry: (attempt, error) => o.onEvent?.({ event: 'retry', table: tableLabel(j.job.t), attempt, error }),
    });
  } catch (e) {
    if (e instanceof RangeFailed) throw new BackfillError(`${tableLabel(j.job.t)}: ${e.message}`);
    throw e;
  }
  await j.table.finishIfDone();
}

/** One table's progress across its ranges: one start, progress and done event for the table, however it is split. */
class TableRun {
  private readonly label: string;
  private readonly split: boolean;
  private rows: number;
  private left: number;
  private startedAt = 0;
  private lastEvent = 0;
  private finished = false;

  constructor(
    t: TableDef,
    private readonly total: number,
    ranges: { range: KeyRange; rows: number; done: boolean }[],
    private readonly o: BackfillOptions,
    private readonly store: CheckpointStore,
    private readonly run: string,
    private readonly onDone: (r: BackfillResult['tables'][number]) => void,
  ) {
    this.label = tableLabel(t);
    this.rows = ranges.reduce((a, r) => a + r.rows, 0);
    this.left = ranges.filter((r) => !r.done).length;
    this.split = ranges.length > 1;
  }

  rangeStarted(): void {
    if (this.startedAt) return;
    this.startedAt = Date.now();
    this.o.onEvent?.({ event: 'start', table: this.label, total: this.total, resumedAt: this.rows });
  }

  batch(rows: number, done: boolean): void {
    this.rows += rows;
    if (done) this.left--;
    if (done || Date.now() - this.lastEvent > 250) {
      this.lastEvent = Date.now();
      this.o.onEvent?.({ event: 'progress', table: this.label, rows: this.rows, total: Math.max(this.total, this.rows) });
    }
  }

  /** When every range is in: the table's own checkpoint (a split table's ranges have theirs), the done event, post-copy. */
  async finishIfDone(): Promise<void> {
    if (this.left > 0 || this.finished) return;
    this.finished = true;
    if (this.split) await this.store.save(this.run, { table: this.label, lastKey: null, rows: this.rows, done: true, updatedAt: new Date().toISOString() });
    const seconds = this.startedAt ? (Date.now() - this.startedAt) / 1000 : 0;
    this.o.onEvent?.({ event: 'done', table: this.label, rows: this.rows, seconds });
    this.onDone({ table: this.label, rows: this.rows, seconds });
  }
}

/** The table's key ranges: saved by an earlier run, or new splits when the table is big enough to share among the workers. */
async function planRanges(o: BackfillOptions, ref: SourceRef, t: TableDef, rows: number, checkpoints: Map<string, Checkpoint>, store: CheckpointStore, run: string, byRowid: boolean): Promise<KeyRange[]> {
  const label = tableLabel(t);
  const saved = savedSplits(checkpoints, label);
  if (saved) return rangesOf(label, saved);
  // an earlier run copied it whole: it goes on whole
  if (checkpoints.has(label)) return rangesOf(label, []);
  const parts = Math.min(o.workers, Math.floor(rows / (o.splitRows ?? MIN_RANGE_ROWS)));
  if (parts < 2) return rangesOf(label, []);
  const splits = await splitKeys(ref.kind === 'sqlite' ? { kind: 'sqlite', path: ref.path } : { kind: 'postgres', url: ref.url }, t, rows, parts, byRowid);
  if (splits.length) await saveSplits(store, run, label, splits);
  return rangesOf(label, splits);
}

/**
 * Whether the table is read in rowid order (rowid-order.ts): when the
 * interrupted run being resumed read it so (its positions still holding the
 * same rows), or for a new snapshot of an SQLite table into an empty target
 * table, where the key it would otherwise be read by is not the rowid. The
 * choice is saved before the first batch: a resumed run reads it the same way.
 */
async function rowidOrder(ref: SourceRef, t: TableDef, key: KeyState, captured: boolean, checkpoints: Map<string, Checkpoint>, store: CheckpointStore, run: string): Promise<boolean> {
  if (ref.kind !== 'sqlite') return false;
  const label = tableLabel(t);
  const own = [...checkpoints.values()].filter((c) => c.table === label || c.table.startsWith(`${label}#`));
  const db = openSqlite(ref.path, true);
  try {
    if (checkpoints.has(rowidLabel(label))) {
      if (captured) throw new BackfillError(`${label}: the interrupted snapshot load read it by row id, and change capture is now installed: a live copy cannot take over from it; TRUNCATE ${qualifiedName(t)} on the target and run the backfill again without --resume`);
      const positions = own.filter((c) => c.lastKey && c.table !== `${label}#split` && c.table !== rowidLabel(label)).map((c) => decodeKey(c.lastKey!));
      try {
        checkPositions(db, t, positions);
      } catch (e) {
        throw new BackfillError((e as Error).message);
      }
      return true;
    }
    if (captured || !key.name || !key.empty || own.length || !rowidOrderPays(db, t)) return false;
  } finally {
    db.close();
  }
  await store.save(run, { table: rowidLabel(label), lastKey: null, rows: 0, done: true, updatedAt: new Date().toISOString() });
  return true;
}

/** Every row up to a range's checkpoint was committed once; what lies past it may be half a batch: removed. */
async function trimPastCheckpoints(c: pg.Client, ref: SourceRef, t: TableDef, open: { range: KeyRange; after: Key | null }[], byRowid: boolean): Promise<void> {
  if (!byRowid || ref.kind !== 'sqlite') {
    for (const r of open) await trimPast(c, t, rangeOf(t, r.after ? keyText(r.after) : null, r.range.hi ? keyText(r.range.hi) : null));
    return;
  }
  const db = openSqlite(ref.path, true);
  try {
    for (const r of open) await trimRowidSpan(c, db, t, (r.after?.[0] as bigint | undefined) ?? null, (r.range.hi?.[0] as bigint | undefined) ?? null);
  } finally {
    db.close();
  }
}

/**
 * Whether the table loads without its primary key (keyless-load.ts): only a
 * snapshot into an empty table, or the resumption of such a load. A live
 * copy (capture installed) needs the key, for the mirror's upserts, before
 * its first batch. A resumed load first trims what its open ranges may have
 * left past their checkpoints.
 */
async function prepareKey(o: BackfillOptions, c: pg.Client, t: TableDef, key: KeyState, captured: boolean, post: PostCopy, trimOpen: () => Promise<void>, byRowid: boolean, orderDiffers: () => Promise<string | null>): Promise<boolean> {
  if (!key.name) {
    if (!o.resume && !key.empty) throw new BackfillError(new KeylessError(t, 'holds rows').message);
    // (a load by rowid trims by the keys themselves, read from the source: any order will do)
    const differs = byRowid ? null : await orderDiffers();
    if (differs && !key.empty) throw new BackfillError(`${tableLabel(t)}: the interrupted snapshot load left it without its primary key, and ${differs}: the rows past its checkpoint cannot be told apart on the target; TRUNCATE ${qualifiedName(t)} on the target and run the backfill again without --resume`);
    await trimOpen();
    if (captured || differs) {
      for (const s of addKeySql(t, keyName(t, null))) await c.query(s);
      return false;
    }
    post.restoreKey(t, keyName(t, null));
    return true;
  }
  if (byRowid && !key.empty) {
    // a load by rowid whose key stayed (a foreign key depended on it): bare COPY again, after the trim
    await trimOpen();
    return false;
  }
  if (captured || !key.empty) return false;
  // without the key a resumed or retried batch is trimmed by key range on the target first: only sound
  // when the target's key order is the source's (otherwise the key stays, and replays merge by it);
  // a load by rowid trims by the keys themselves
  if (!byRowid && (await orderDiffers())) return false;
  if (!(await dropKey(c, t, key.name))) return false;
  post.restoreKey(t, key.name);
  return true;
}

async function sourceKeyOrderDiffers(ref: SourceRef, target: pg.Client, t: TableDef): Promise<string | null> {
  if (ref.kind === 'sqlite') {
    const db = openSqlite(ref.path, true);
    try {
      return await keyOrderDiffers(target, t, { kind: 'sqlite', db });
    } finally {
      db.close();
    }
  }
  const c = pgClient(ref.url);
  await c.connect();
  try {
    return await keyOrderDiffers(target, t, { kind: 'postgres', client: c });
  } finally {
    await c.end();
  }
}

async function checkTargetTables(target: string, plan: SchemaPlan): Promise<void> {
  const c = pgClient(target);
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

/** Each table's figures, from one walk of the file's pages per table. */
function sqliteStats(path: string, plan: SchemaPlan): Map<string, SqliteTableStats> {
  const db = openSqlite(path, true);
  try {
    return new Map(plan.tables.map((t) => [t.name, sqliteTableStats(db, t)]));
  } finally {
    db.close();
  }
}

async function countRows(source: string, t: TableDef): Promise<number> {
  const c = pgClient(source);
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
export async function copyHistory(source: string, target: string, opts: { batchSize?: number; workers?: number; tables?: string[]; splitRows?: number } = {}): Promise<Record<string, number>> {
  const res = await runBackfill({
    source, target, state: ':memory:', tables: opts.tables, batchSize: opts.batchSize ?? 10_000, workers: opts.workers ?? 2, splitRows: opts.splitRows, maxRate: 0, retryAttempts: 3, resume: false,
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
  const c = pgClient(url);
  await c.connect();
  try {
    return (await c.query(`SELECT to_regclass($1) IS NOT NULL AS x`, [`${PG_CAPTURE_SCHEMA}.changes`])).rows[0].x as boolean;
  } finally {
    await c.end();
  }
}
