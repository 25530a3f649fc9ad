// What promote (and rollback after promote, and finalize) do to the databases
// themselves, one function per step: try the reverse mirror, list transactions
// still open, and move capture from one database to the other. The order and
// the pause around them are control/promote/swap.ts's. A legacy database that
// is an SQLite file takes the steps of sqlite-steps.ts instead.
import pg from 'pg';
import { pgClient } from '../../common/pg-config.ts';
import { parseDbUrl } from '../../common/urls.ts';
import { alignSequences } from '../../backfill/copy/sequences.ts';
import { readSourceSchema } from '../../backfill/schema/read-source.ts';
import { installCapture, qualified, retireCapture, removeCapture } from '../capture/pg-capture.ts';
import type { ChangeApplier } from '../mirror/apply.ts';
import { installSqliteCaptureIn, probeSqliteCapture, removeSqliteCaptureIn, retireSqliteCaptureIn } from './sqlite-steps.ts';

/** The file, when `url` is an SQLite one. */
export function sqliteFile(url: string): string | null {
  const u = parseDbUrl(url);
  return u.kind === 'sqlite' ? u.path : null;
}

/** Connections Cutover opens itself carry this prefix: they are not the application's transactions. */
const INTERNAL = 'cutover-%';

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = pgClient(url, { application_name: 'cutover-promote', connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * The reverse mirror, tried before anything changes: capture can be installed
 * on the database that becomes the source of truth (installed and rolled
 * back), and the one that becomes the mirror takes an apply of an empty batch
 * for every captured table. Returns the tables; throws the reason otherwise.
 */
export async function tryReverseMirror(nextSourceUrl: string, nextMirror: ChangeApplier, tables?: string[]): Promise<string[]> {
  const file = sqliteFile(nextSourceUrl);
  const names = file ? await probeSqliteCapture(file, tables) : (await withClient(nextSourceUrl, (c) => installCapture(c, tables, { probe: true }))).map(qualified);
  await nextMirror.probe(names);
  return names;
}

export interface OpenTransaction {
  pid: number;
  application: string;
  state: string;
  seconds: number;
  query: string;
}

/**
 * Application transactions open on a database, whichever proxy (or tool) runs
 * them: the fleet-wide view the local session count cannot give.
 */
export async function openTransactions(c: pg.Client): Promise<OpenTransaction[]> {
  const r = await c.query<{ pid: number; application: string; state: string; seconds: number; query: string }>(
    `SELECT pid, application_name AS application, coalesce(state, '') AS state,
            extract(epoch FROM now() - xact_start)::float8 AS seconds, left(query, 120) AS query
       FROM pg_stat_activity
      WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
        AND xact_start IS NOT NULL AND application_name NOT LIKE $1
      ORDER BY xact_start`,
    [INTERNAL],
  );
  return r.rows;
}

export function describeOpen(list: OpenTransaction[]): string {
  return list
    .slice(0, 3)
    .map((t) => `pid ${t.pid}${t.application ? ` (${t.application})` : ''} ${t.state} for ${t.seconds.toFixed(1)} s: ${t.query.replace(/\s+/g, ' ')}`)
    .join('; ');
}

/**
 * Sequences on `toUrl` moved past `fromUrl`'s: ids the new source of truth
 * hands out never collide. Into an SQLite file there is nothing to move:
 * SQLite gives a new row max(rowid) + 1 (AUTOINCREMENT: past sqlite_sequence
 * too), and the mirrored rows are already in the file.
 */
export async function alignSequencesFrom(fromUrl: string, toUrl: string): Promise<number> {
  if (sqliteFile(toUrl)) return 0;
  if (sqliteFile(fromUrl)) return alignSequences(fromUrl, toUrl, await readSourceSchema(fromUrl));
  // between two PostgreSQL databases the sequences are read from the catalog; no schema plan is needed
  return alignSequences(fromUrl, toUrl, { prelude: [], tables: [], postTables: [], unmapped: [] });
}

/** `deadline` (epoch ms): how long table locks may be waited for, retried (default 30 s). */
export async function installCaptureOn(url: string, tables?: string[], deadline?: number): Promise<number> {
  const file = sqliteFile(url);
  if (file) return installSqliteCaptureIn(file, tables);
  return (await withClient(url, (c) => installCapture(c, tables, { deadline }))).length;
}

/** Capture removed from the old source of truth; the change rows still waiting if it was not empty. */
export function retireCaptureOn(url: string, lockTimeoutMs: number): Promise<number> {
  const file = sqliteFile(url);
  if (file) return retireSqliteCaptureIn(file, lockTimeoutMs);
  return withClient(url, (c) => retireCapture(c, lockTimeoutMs));
}

export function removeCaptureOn(url: string): Promise<number> {
  const file = sqliteFile(url);
  if (file) return removeSqliteCaptureIn(file);
  return withClient(url, (c) => removeCapture(c));
}
