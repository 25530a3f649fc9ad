// promote's database steps (database-steps.ts) when the database is an SQLite
// file: capture in the file (capture/sqlite-capture.ts), each step under the
// engine's in-process write lock and then SQLite's own, retried on a timer
// while another process holds the file's lock. An SQLite file has no
// pg_stat_activity: its only writers inside the proxy are the sessions promote
// already counts, and another process's write transaction shows up as the
// busy lock the steps wait for.
import type Database from 'better-sqlite3';
import { capturedTable, installSqliteCapture, listSqliteTables, removeSqliteCapture, retireSqliteCapture } from '../capture/sqlite-capture.ts';
import { CaptureError } from '../capture/pg-capture.ts';
import { engineFor } from '../sqlite/engine.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `fn` on a fresh connection to the file, holding the in-process write lock; SQLITE_BUSY retried until the timeout. */
async function withFile<T>(file: string, fn: (db: Database.Database) => Promise<T> | T, timeoutMs?: number): Promise<T> {
  const engine = engineFor(file);
  const timeout = timeoutMs ?? engine.busyTimeoutMs;
  const owner = {};
  await engine.lock.acquire(owner, timeout);
  const db = engine.open();
  try {
    const deadline = Date.now() + timeout;
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      try {
        return await fn(db);
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw e;
      }
      await sleep(delay);
    }
  } finally {
    db.close();
    engine.lock.release(owner);
  }
}

/** The tables capture would cover, as change-row tags; throws (naming them) for tables without a key. */
export function probeSqliteCapture(file: string, only?: string[]): Promise<string[]> {
  return withFile(file, async (db) => {
    const all = await listSqliteTables(db);
    const tables = only?.length ? all.filter((t) => only.includes(t.name) || only.includes(`public.${t.name}`)) : all;
    const keyless = tables.filter((t) => !t.key.length);
    if (keyless.length) throw new CaptureError(`tables without a primary key cannot be replicated: ${keyless.map((t) => t.name).join(', ')}`);
    return tables.map((t) => capturedTable(t).tbl);
  });
}

export async function installSqliteCaptureIn(file: string, only?: string[]): Promise<number> {
  return (await withFile(file, (db) => installSqliteCapture(db, only))).length;
}

export function retireSqliteCaptureIn(file: string, lockTimeoutMs: number): Promise<number> {
  return withFile(file, (db) => retireSqliteCapture(db), lockTimeoutMs);
}

export function removeSqliteCaptureIn(file: string): Promise<number> {
  return withFile(file, (db) => removeSqliteCapture(db));
}
