// The proxy's migration state in an SQLite file (default .cutover/state.db):
// phase, read percent, trip reason, source of truth, and an audit log of every
// change (time, actor, what, from, to, why). Written synchronously on every
// change, so a killed proxy restarts where it was.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { LiveSnapshot, LiveState } from '../../common/live-state.ts';

export interface AuditEntry {
  at: string;
  actor: string;
  what: string;
  from: string | null;
  to: string | null;
  reason: string;
}

const PERSISTED: (keyof LiveSnapshot)[] = ['phase', 'readPercent', 'sourceOfTruth', 'tripped'];

export class SqliteStateStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS control_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS control_audit (
        id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, what TEXT NOT NULL,
        from_value TEXT, to_value TEXT, reason TEXT NOT NULL);`);
  }

  load(): Partial<LiveSnapshot> {
    const rows = this.db.prepare('SELECT key, value FROM control_state').all() as { key: string; value: string }[];
    return Object.fromEntries(rows.filter((r) => PERSISTED.includes(r.key as keyof LiveSnapshot)).map((r) => [r.key, JSON.parse(r.value)]));
  }

  /** Persist what changed between two snapshots, with one audit row per field, in one transaction. */
  record(before: LiveSnapshot, after: LiveSnapshot, actor: string, reason: string): void {
    const put = this.db.prepare('INSERT INTO control_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    const audit = this.db.prepare('INSERT INTO control_audit (at, actor, what, from_value, to_value, reason) VALUES (?, ?, ?, ?, ?, ?)');
    const at = new Date().toISOString();
    this.db.transaction(() => {
      for (const key of PERSISTED) {
        if (before[key] === after[key]) continue;
        put.run(key, JSON.stringify(after[key]));
        audit.run(at, actor, key, before[key] === null ? null : String(before[key]), after[key] === null ? null : String(after[key]), reason || '');
      }
    })();
  }

  history(limit = 50): AuditEntry[] {
    return (this.db.prepare('SELECT at, actor, what, from_value AS "from", to_value AS "to", reason FROM control_audit ORDER BY id DESC LIMIT ?').all(limit) as AuditEntry[]).reverse();
  }

  close(): void {
    this.db.close();
  }
}

/** Start `live` from the store and write every later change (and who made it) back. */
export function persistLiveState(store: SqliteStateStore, live: LiveState, actor: string): void {
  const saved = store.load();
  if (Object.keys(saved).length) live.update(saved, 'restored from the state store');
  live.on('change', (after: LiveSnapshot, before: LiveSnapshot, reason: string) => store.record(before, after, actor, reason));
}
