// The SQLite source engine's entry point: one client session as a Duplex that
// speaks the backend protocol (after the proxy has authenticated the client).
import { randomInt } from 'node:crypto';
import { Duplex } from 'node:stream';
import type Database from 'better-sqlite3';
import { attachCatalog, registerFunctions, SessionSettings } from './catalog.ts';
import { engineFor } from './engine.ts';
import { SessionEngine } from './session-engine.ts';
import { loadTranslator } from './translate.ts';

/** Open sessions by the process ID their BackendKeyData gave: where a CancelRequest finds them. */
const live = new Map<number, SqliteBackend>();

/**
 * A client's CancelRequest for an SQLite session (the key the engine sent at
 * start-up); false for a key no session of this process has.
 */
export function cancelSqliteSession(pid: number, secret: number): boolean {
  const b = live.get(pid);
  if (!b || b.key.secret !== secret) return false;
  b.session.cancel();
  return true;
}

/** Client messages are already size-checked by the proxy's relay. */
const MAX_MESSAGE = 1 << 30;

class SqliteBackend extends Duplex {
  readonly session: SessionEngine;
  readonly db: Database.Database;
  private ended = false;
  /** Output pushed past the readable buffer's limit: resolved at the next _read. */
  private full: { done: Promise<void>; resolve: () => void } | null = null;

  constructor(file: string, startup: Record<string, string>, opts: EngineOptions) {
    super();
    const engine = engineFor(file);
    const settings = new SessionSettings(startup.user ?? '', startup.database ?? '', startup);
    const key = { pid: randomInt(1, 2 ** 31 - 1), secret: randomInt(0, 2 ** 31 - 1) };
    this.db = engine.open();
    try {
      attachCatalog(this.db);
      registerFunctions(this.db, settings, key.pid);
    } catch (e) {
      this.db.close();
      throw e;
    }
    this.session = new SessionEngine(this.db, engine, settings, key, (b) => {
      if (this.ended) return;
      if (b === null) this.ended = true;
      if (!this.push(b) && b !== null && !this.full) {
        let resolve!: () => void;
        const done = new Promise<void>((r) => (resolve = r));
        this.full = { done, resolve };
      }
    }, MAX_MESSAGE, () => (this.ended ? null : this.full?.done ?? null), opts.resultLimit);
    // the engine ended the session (a FATAL: a bad message): once the client's side has read it all, the stream
    // closes as a server's socket does, which is how the proxy's relays learn the session is over
    this.once('end', () => this.destroy());
    this.session.start();
    this.key = key;
    live.set(key.pid, this);
  }

  readonly key: { pid: number; secret: number };

  /** No longer found by a CancelRequest (ended or destroyed, whichever comes first). */
  private forget(): void {
    if (live.get(this.key.pid) === this) live.delete(this.key.pid);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.session.push(chunk).then(() => cb(), (e: Error) => cb(e));
  }

  override _read(): void {
    // output is pushed as it is produced; the session waits while it is not taken
    const f = this.full;
    this.full = null;
    f?.resolve();
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.forget();
    this.session.close();
    if (!this.ended) {
      this.ended = true;
      this.push(null);
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.forget();
    this.session.close();
    this.full?.resolve();
    cb(err);
  }
}

/**
 * Opens a session on the SQLite file `file` and writes the start-up tail
 * (ParameterStatus…, BackendKeyData, ReadyForQuery; the proxy sent AuthenticationOk).
 *
 * For change capture (not wired yet): the session's own connection is
 * `backend.db`; statements run on it join the session's transaction, e.g. a
 * capture hook can drain the change table on that handle before COMMIT.
 */
export async function openSqliteBackend(file: string, startup: Record<string, string>, opts: EngineOptions = {}): Promise<Duplex> {
  await loadTranslator();
  return new SqliteBackend(file, startup, opts);
}

export interface EngineOptions {
  /** The largest read result a session holds (bytes of its values; default RESULT_LIMIT). */
  resultLimit?: number;
}
