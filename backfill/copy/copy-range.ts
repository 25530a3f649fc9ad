// Copying one key range of one table (the whole table, or one of its splits):
// batches in key order from the checkpoint on, each one transaction on the
// target, the checkpoint saved after each; transient failures retried with
// backoff on fresh connections, never applying a batch twice or half.
import type { CheckpointStore } from '../checkpoints.ts';
import type { TableDef } from '../schema/model.ts';
import { encodeKey, keyText, type Key } from './keys.ts';
import { trimPast } from './keyless-load.ts';
import { trimRowidSpan } from './rowid-order.ts';
import { PgBatchReader, rangeOf } from './pg-source.ts';
import { backoffMs, isTransient, type RateLimiter } from './retry.ts';
import { openSqlite, SqliteBatchReader, SqliteLockEpochs, type SqliteTableStats } from './sqlite-source.ts';
import { TargetWriter } from './target-writer.ts';
import type { KeyRange } from './splits.ts';

export type SourceRef =
  | { kind: 'sqlite'; path: string; epochs: SqliteLockEpochs | null; stats: ReadonlyMap<string, SqliteTableStats> }
  | { kind: 'postgres'; url: string; lock: boolean };

export interface RangeJob {
  t: TableDef;
  range: KeyRange;
  /** Where this range's checkpoint left off (null: its start). */
  after: Key | null;
  /** Loaded without the primary-key index (keyless-load.ts): a retried batch first trims what its attempt left. */
  keyless: boolean;
  /** Read in rowid order (rowid-order.ts, keyless loads from SQLite only): positions are [rowid, ...key]. */
  byRowid: boolean;
}

export interface RangeOptions {
  target: string;
  batchSize: number;
  maxBatchBytes: number;
  retryAttempts: number;
  limiter: RateLimiter;
  store: CheckpointStore;
  run: string;
  /** Rows committed (count) so far in this range, and whether it is finished. */
  onBatch(rows: number, done: boolean): void;
  onRetry(attempt: number, error: string): void;
}

export class RangeFailed extends Error {}

/** Copies the range; returns the rows copied by this call. */
export async function copyRange(src: SourceRef, job: RangeJob, rowsBefore: number, o: RangeOptions): Promise<number> {
  const { t, range } = job;
  let after = job.after;
  let rows = rowsBefore;
  let writers: TargetWriter[] = [];
  let pgReader: PgBatchReader | null = null;
  const sqlite = src.kind === 'sqlite' ? new SqliteBatchReader(openSqlite(src.path), src.stats) : null;
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
  const past = () => rangeOf(t, after ? keyText(after) : null, range.hi ? keyText(range.hi) : null);
  try {
    await reconnect();
    let trim = false;
    for (let attempt = 0; ; ) {
      let copied: { rows: number; last: Key | null; more: boolean };
      try {
        // a failed attempt may have committed some of its batches: without the key index they would be doubled
        if (trim && job.byRowid) await trimRowidSpan(writers[0]!.client, sqlite!.db, t, (after?.[0] as bigint | undefined) ?? null, (range.hi?.[0] as bigint | undefined) ?? null);
        else if (trim) await trimPast(writers[0]!.client, t, past());
        trim = false;
        copied = sqlite
          ? await sqliteBatch(o.limiter, (src as { epochs: SqliteLockEpochs | null }).epochs, sqlite, writers, t, after, range.hi, o.batchSize, o.maxBatchBytes, job.keyless, job.byRowid)
          : await pgBatch(pgReader!, writers[0]!, t, after, range.hi, o.batchSize, (src as { lock: boolean }).lock, job.keyless);
        attempt = 0;
      } catch (e) {
        if (!isTransient(e) || attempt >= o.retryAttempts) {
          throw new RangeFailed(`batch after key ${after ? keyText(after).join(', ') : '(start)'} failed: ${(e as Error).message}`);
        }
        o.onRetry(attempt + 1, (e as Error).message);
        trim = job.keyless;
        await new Promise((r) => setTimeout(r, backoffMs(attempt++)));
        await reconnect().catch(() => undefined);
        continue;
      }
      rows += copied.rows;
      if (copied.last) after = copied.last;
      const done = !copied.more;
      await o.store.save(o.run, { table: range.label, lastKey: after ? encodeKey(after) : null, rows, done, updatedAt: new Date().toISOString() });
      o.onBatch(copied.rows, done);
      if (done) break;
      await o.limiter.take(copied.rows);
    }
  } finally {
    await Promise.all([...writers.map((w) => w.end()), (pgReader as PgBatchReader | null)?.end()]);
    sqlite?.db.close();
  }
  return rows - rowsBefore;
}

/**
 * Batches read inside one epoch of the shared write lock: the next batch is
 * read while the target ingests the previous one on the other connection, and
 * the worker leaves the epoch only once the target committed every batch it
 * read under it (only then may writers change those rows).
 */
async function sqliteBatch(limiter: RateLimiter, epochs: SqliteLockEpochs | null, r: SqliteBatchReader, w: TargetWriter[], t: TableDef, after: Key | null, upTo: Key | null, limit: number, maxBytes: number, keyless: boolean, byRowid: boolean) {
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
      const b = await r.read(t, last, limit, maxBytes, upTo, byRowid);
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

async function pgBatch(r: PgBatchReader, w: TargetWriter, t: TableDef, after: Key | null, upTo: Key | null, limit: number, lock: boolean, keyless: boolean) {
  const lo = after ? keyText(after) : null;
  const end = upTo ? keyText(upTo) : null;
  await r.client.query('BEGIN');
  try {
    const hi = await r.upperBound(t, lo, limit, end);
    // fewer rows than a batch before the range's end: this batch runs to the end
    const to = hi ?? end;
    const n = await w.writeBatch(t, r.rows(t, lo, to, lock), keyless ? null : rangeOf(t, lo, to));
    await r.client.query('COMMIT');
    return { rows: n, last: to, more: hi !== null };
  } catch (e) {
    await r.client.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}
