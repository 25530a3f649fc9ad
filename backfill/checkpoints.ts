// Per-table backfill checkpoints in the state store (the SQLite state file by
// default, or Redis for a fleet): the last key whose batch the target
// committed. A killed backfill resumes after it; a batch replayed after a
// crash between the target's commit and the checkpoint write is harmless,
// because rows go in with ON CONFLICT DO NOTHING.
import { makeDir } from '../common/make-dir.ts';
import { openStateFile } from '../common/sqlite-file.ts';
import { redactUrl } from '../common/urls.ts';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';

export interface Checkpoint {
  table: string;
  /** Encoded last key copied (keys.ts), null before the first batch. */
  lastKey: string | null;
  rows: number;
  done: boolean;
  updatedAt: string;
}

export interface CheckpointStore {
  /** Checkpoints of the run for this source → target pair. */
  load(run: string): Promise<Map<string, Checkpoint>>;
  save(run: string, cp: Checkpoint): Promise<void>;
  clear(run: string): Promise<void>;
  close(): Promise<void>;
}

class SqliteCheckpoints implements CheckpointStore {
  private db: Database.Database;
  constructor(file: string) {
    makeDir(path.dirname(path.resolve(file)), '--state');
    this.db = openStateFile(file, (db) => {
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      // a checkpoint lost to an OS crash only replays a batch (ON CONFLICT DO NOTHING): no fsync per batch
      db.pragma('synchronous = NORMAL');
      db.exec(`CREATE TABLE IF NOT EXISTS backfill_checkpoints (
        run TEXT NOT NULL, tbl TEXT NOT NULL, last_key TEXT, rows INTEGER NOT NULL, done INTEGER NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (run, tbl))`);
    });
  }
  async load(run: string) {
    const rows = this.db.prepare('SELECT tbl, last_key, rows, done, updated_at FROM backfill_checkpoints WHERE run = ?').all(run) as { tbl: string; last_key: string | null; rows: number; done: number; updated_at: string }[];
    return new Map(rows.map((r) => [r.tbl, { table: r.tbl, lastKey: r.last_key, rows: r.rows, done: r.done === 1, updatedAt: r.updated_at }]));
  }
  async save(run: string, cp: Checkpoint) {
    this.db.prepare('INSERT OR REPLACE INTO backfill_checkpoints VALUES (?, ?, ?, ?, ?, ?)').run(run, cp.table, cp.lastKey, cp.rows, cp.done ? 1 : 0, cp.updatedAt);
  }
  async clear(run: string) {
    this.db.prepare('DELETE FROM backfill_checkpoints WHERE run = ?').run(run);
  }
  async close() {
    this.db.close();
  }
}

class RedisCheckpoints implements CheckpointStore {
  private redis: Redis;
  private readonly where: string;
  /** The connection's own last error: a command refused meanwhile says only that it ran out of retries. */
  private lastError: string | null = null;
  constructor(url: string) {
    this.where = redactUrl(url);
    this.redis = new Redis(url, { maxRetriesPerRequest: 3, lazyConnect: false, connectTimeout: 2_000 });
    // without a listener ioredis printed every failed connection attempt with its stack
    this.redis.on('error', (e: Error) => (this.lastError = e.message));
    this.redis.on('ready', () => (this.lastError = null));
  }
  private key = (run: string) => `cutover:backfill:${run}`;
  /** A command whose failure names the store and says why the connection failed ("WRONGPASS …", "ECONNREFUSED …"). */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (e) {
      throw new Error(`state store ${this.where}: ${(this.lastError ?? (e as Error).message).trim()}`, { cause: e });
    }
  }
  async load(run: string) {
    const all = await this.call(() => this.redis.hgetall(this.key(run)));
    return new Map(Object.entries(all).map(([t, v]) => [t, JSON.parse(v) as Checkpoint]));
  }
  async save(run: string, cp: Checkpoint) {
    await this.call(() => this.redis.hset(this.key(run), cp.table, JSON.stringify(cp)));
  }
  async clear(run: string) {
    await this.call(() => this.redis.del(this.key(run)));
  }
  async close() {
    this.redis.disconnect();
  }
}

export function openCheckpoints(state: string): CheckpointStore {
  return state.startsWith('redis://') || state.startsWith('rediss://') ? new RedisCheckpoints(state) : new SqliteCheckpoints(state);
}
