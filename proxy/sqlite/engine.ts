// One SQLite file served to many client sessions: connections and the write lock.
//
// Design.
// - One better-sqlite3 connection per client session. SQLite transactions
//   belong to a connection, and PostgreSQL clients hold transactions open across
//   round trips; sharing one handle would mix sessions' transactions. The file
//   is in WAL mode, so readers never block the writer nor each other, and each
//   session's read transaction keeps its own snapshot.
// - better-sqlite3 is synchronous: a statement runs on the event loop and blocks
//   every session while it runs (a long read delays the others; acceptable for
//   the databases this serves, and no worse than SQLite in the app itself).
//   Because of that, SQLite's own busy_timeout must not be used to wait for the
//   write lock: it would sleep on the event loop, the session holding the lock
//   could never run its COMMIT, and everything would stall until the timeout.
//   Connections run with busy_timeout = 0 and wait asynchronously instead:
//   * in-process writers queue on WriteLock (FIFO) before they touch SQLite;
//   * the lock holder then starts `BEGIN IMMEDIATE`; SQLITE_BUSY there can only
//     come from another process, and is retried on a timer.
//   Both waits end at the session's lock_timeout (SET lock_timeout, else the
//   engine's busy timeout, 5 s by default) with 55P03.
// - A session takes the write lock lazily, at its first write (or SELECT … FOR
//   UPDATE/SHARE), not at BEGIN: read-only transactions then never queue behind
//   writers, and BEGIN; SELECT; COMMIT costs no lock. The price: a transaction
//   that read first and writes later upgrades its read snapshot, and if another
//   session committed in between SQLite refuses (SQLITE_BUSY_SNAPSHOT) → 40001,
//   which is PostgreSQL's serialization failure, retryable like in REPEATABLE
//   READ. Lock with FOR UPDATE before reading to avoid it.
// - The lock is held until the SQLite transaction ends (COMMIT/ROLLBACK, end of
//   an implicit transaction, or the session closing), so writers are
//   serialized in commit order, as SQLite requires.
import path from 'node:path';
import Database from 'better-sqlite3';
import { lockTimeout } from './errors.ts';
import { BackendUnavailable } from '../backend-pg.ts';

export const DEFAULT_BUSY_TIMEOUT_MS = Number(process.env.CUTOVER_SQLITE_BUSY_TIMEOUT_MS ?? 5_000);

interface Waiter {
  owner: object;
  resolve: () => void;
  timer: NodeJS.Timeout;
}

/** FIFO mutex for the one SQLite writer, with a timeout per waiter. */
export class WriteLock {
  private holder: object | null = null;
  private queue: Waiter[] = [];

  held(owner: object): boolean {
    return this.holder === owner;
  }

  acquire(owner: object, timeoutMs: number): Promise<void> {
    if (this.holder === owner) return Promise.resolve();
    if (!this.holder) {
      this.holder = owner;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        owner,
        resolve,
        timer: setTimeout(() => {
          this.queue = this.queue.filter((x) => x !== w);
          reject(lockTimeout(timeoutMs));
        }, timeoutMs),
      };
      this.queue.push(w);
    });
  }

  release(owner: object): void {
    if (this.holder !== owner) return;
    const next = this.queue.shift();
    this.holder = next?.owner ?? null;
    if (next) {
      clearTimeout(next.timer);
      next.resolve();
    }
  }

  /** A session ending while queued. */
  abandon(owner: object): void {
    for (const w of this.queue.filter((x) => x.owner === owner)) clearTimeout(w.timer);
    this.queue = this.queue.filter((x) => x.owner !== owner);
    this.release(owner);
  }
}

export class FileEngine {
  readonly lock = new WriteLock();
  private walChecked = false;

  constructor(readonly file: string, readonly busyTimeoutMs: number) {}

  /** A new connection for one session. */
  open(): Database.Database {
    let db: Database.Database;
    try {
      // the proxy refuses to start without the file (a typo must not serve an empty database): one
      // moved or deleted while it runs is no source either, and would be made again empty here
      db = new Database(this.file, { fileMustExist: true });
    } catch (e) {
      throw new BackendUnavailable(`cannot open the SQLite database file: ${(e as Error).message}`);
    }
    try {
      if (!this.walChecked) {
        db.pragma('journal_mode = WAL');
        this.walChecked = true;
      }
      db.pragma('busy_timeout = 0');
      db.pragma('foreign_keys = ON');
      // PostgreSQL's LIKE is case-sensitive; ILIKE is translated to lower() LIKE lower()
      db.pragma('case_sensitive_like = ON');
      // REPLACE conflict resolution deletes rows without firing delete triggers unless this is on,
      // and capture must see those deletes. It would also let an application's trigger that
      // updates its own table recurse, so it stays off when the file has triggers of its own.
      if (!hasApplicationTriggers(db)) db.pragma('recursive_triggers = ON');
      db.defaultSafeIntegers(true);
    } catch (e) {
      db.close();
      throw e;
    }
    return db;
  }
}

function hasApplicationTriggers(db: Database.Database): boolean {
  return Boolean(db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name NOT LIKE '\_cutover\_capture\_%' ESCAPE '\\' LIMIT 1`).pluck().get());
}

const engines = new Map<string, FileEngine>();

export function engineFor(file: string): FileEngine {
  const key = path.resolve(file);
  let e = engines.get(key);
  if (!e) {
    e = new FileEngine(key, DEFAULT_BUSY_TIMEOUT_MS);
    engines.set(key, e);
  }
  return e;
}

/** Retries `fn` while SQLite reports SQLITE_BUSY (another process holds the lock), until the deadline. */
export async function retryBusy<T>(fn: () => T, deadline: number, timeoutMs: number): Promise<T> {
  let delay = 2;
  for (;;) {
    try {
      return fn();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== 'SQLITE_BUSY' || Date.now() >= deadline) {
        if (code === 'SQLITE_BUSY') throw lockTimeout(timeoutMs);
        throw e;
      }
    }
    await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(1, deadline - Date.now()))));
    delay = Math.min(delay * 2, 50);
  }
}
