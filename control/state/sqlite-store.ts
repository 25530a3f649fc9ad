// The state store in an SQLite file (default .cutover/state.db), for one proxy:
// the record in control_state, every change in control_audit (time, actor,
// what, from, to, why). Each change is one IMMEDIATE transaction, so a killed
// proxy restarts exactly where it was and a CLI acting on the file directly
// never interleaves with the proxy.
import path from 'node:path';
import Database from 'better-sqlite3';
import { makeDir } from '../../common/make-dir.ts';
import { openStateFile } from '../../common/sqlite-file.ts';
import { applyMutation, initialRecord, PERSISTED, type AuditEntry, type Changed, type ControlRecord, type Mutation, type StateStore } from './store.ts';

export type { AuditEntry };

export class SqliteStateStore implements StateStore {
  readonly kind = 'sqlite';
  readonly where: string;
  private readonly db: Database.Database;
  /** The proxy's hold on the file (claimForProxy), released with the process. */
  private claim: Database.Database | null = null;

  constructor(file: string, private readonly initialReads = 0) {
    makeDir(path.dirname(path.resolve(file)), 'state');
    this.where = path.resolve(file);
    this.db = openStateFile(file, (db) => {
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      db.exec(`
        CREATE TABLE IF NOT EXISTS control_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS control_audit (
          id INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, what TEXT NOT NULL,
          from_value TEXT, to_value TEXT, reason TEXT NOT NULL);`);
    });
  }

  private read(): ControlRecord {
    const rows = this.db.prepare('SELECT key, value FROM control_state').all() as { key: string; value: string }[];
    const saved = Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as unknown]));
    return { ...initialRecord(this.initialReads), ...saved } as ControlRecord;
  }

  async load(): Promise<ControlRecord> {
    return this.read();
  }

  async change(mutate: Mutation, actor: string, reason: string): Promise<Changed> {
    const put = this.db.prepare('INSERT INTO control_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    const audit = this.db.prepare('INSERT INTO control_audit (at, actor, what, from_value, to_value, reason) VALUES (?, ?, ?, ?, ?, ?)');
    return this.db.transaction((): Changed => {
      const before = this.read();
      const next = applyMutation(before, mutate, actor, reason);
      if (!next) return { before, after: before, changed: false };
      for (const key of [...PERSISTED, 'version'] as const) put.run(key, JSON.stringify(next.after[key]));
      for (const a of next.audit) audit.run(a.at, a.actor, a.what, a.from, a.to, a.reason);
      return { before, after: next.after, changed: true };
    }).immediate();
  }

  async history(limit = 50): Promise<AuditEntry[]> {
    return (this.db.prepare('SELECT at, actor, what, from_value AS "from", to_value AS "to", reason FROM control_audit ORDER BY id DESC LIMIT ?').all(limit) as AuditEntry[]).reverse();
  }

  /** One process per file: nobody else announces changes (the periodic re-read picks up a CLI's). */
  subscribe(): () => void {
    return () => undefined;
  }

  onHealth(): void {}

  /**
   * The file is this proxy's for as long as it runs. Nothing told a second proxy on the same file
   * that it was not alone: it saw a promote's pause up to 2 s late (the re-read), went on writing to
   * the legacy database after the flip had removed capture there (writes the new source of truth
   * never got), and cleared the verify pass for capture "gone from the source". The claim is an
   * exclusive lock on a file beside the state (`<state>.proxy`), held by an open SQLite transaction:
   * the operating system lets go of it when the process ends, kill -9 included, so a restarted proxy
   * takes the file over at once; the CLI, which reads and changes the state file itself, takes none.
   */
  claimForProxy(): void {
    const file = `${this.where}.proxy`;
    const lock = new Database(file, { timeout: 0 });
    try {
      lock.exec('BEGIN EXCLUSIVE');
    } catch (e) {
      lock.close();
      if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
      throw new StateFileInUse(`the state store ${this.where} is in use by another proxy (it holds ${file}); an SQLite state file serves one proxy: run a fleet with --state redis://host:port/N`);
    }
    this.claim = lock;
  }

  async close(): Promise<void> {
    this.claim?.close();
    this.claim = null;
    this.db.close();
  }
}

export class StateFileInUse extends Error {}
