// Applying captured PostgreSQL change rows to an SQLite legacy file: the
// mirror direction after promote (new → legacy), so a rollback into SQLite
// loses nothing. One SQLite transaction per apply: upsert by key from the full
// new row, delete by key, truncate as DELETE.
//
// - Serialized with every other writer of the file: the engine's in-process
//   write lock (FIFO, as the proxy's SQLite sessions and the drainer take it),
//   then BEGIN IMMEDIATE, retried on a timer while another process holds
//   SQLite's own lock (busy_timeout would sleep on the event loop).
// - Rows, not effects: the connection runs with foreign_keys OFF, as the
//   PostgreSQL mirror runs with session_replication_role = replica; cascades
//   already happened on the source and arrive as rows of their own.
// - No loop back: promote retires the file's capture (triggers and change
//   table) before PostgreSQL becomes the source of truth, and rollback puts it
//   back only after the last apply. Should capture be present anyway (an
//   operator reinstalled it), the change rows this transaction's applies made
//   are deleted inside it, so they never travel back to PostgreSQL.
// - Values: sqlite-values.ts, from the jsonb text scanned without JSON.parse.
import type Database from 'better-sqlite3';
import { CHANGES, capturedTable, listSqliteTables, sqliteCaptureInstalled } from '../capture/sqlite-capture.ts';
import { TEXT_MARKER } from '../capture/pg-capture.ts';
import type { ColumnDef } from '../../backfill/schema/model.ts';
import { engineFor, retryBusy, type FileEngine } from '../sqlite/engine.ts';
import { MirrorApplyError, type Change, type ChangeApplier } from './apply.ts';
import { scanObject } from './json-scan.ts';
import { toSqliteValue, type SqliteValue } from './sqlite-values.ts';

const qi = (id: string) => '"' + id.replace(/"/g, '""') + '"';

interface TablePlan {
  name: string;
  columns: ColumnDef[];
  /** Every column of the file's table, generated ones too (PostgreSQL's row carries them). */
  known: Set<string>;
  key: ColumnDef[];
  upsert: Database.Statement;
  del: Database.Statement;
  truncate: Database.Statement;
}

export class SqliteApplier implements ChangeApplier {
  private readonly engine: FileEngine;
  private db: Database.Database | null = null;
  /** By the change rows' tag ("public"."name"); rebuilt when a tag is unknown or the schema changed. */
  private plans: Map<string, TablePlan> | null = null;

  constructor(readonly file: string) {
    this.engine = engineFor(file);
  }

  private conn(): Database.Database {
    if (!this.db) {
      const db = this.engine.open();
      db.pragma('foreign_keys = OFF');
      this.db = db;
    }
    return this.db;
  }

  async apply(changes: Change[]): Promise<void> {
    if (!changes.length) return;
    try {
      await this.underLock(async (db) => {
        const floor = this.captureFloor(db);
        for (const c of changes) {
          if (c.op === 'R') continue; // re-sync markers are for the drainer
          const p = await this.plan(c.tbl);
          if (c.op === 'T') p.truncate.run();
          else if (c.op === 'D') p.del.run(...keyValues(p, c.pk));
          else p.upsert.run(...rowValues(p, c.row ?? '{}'));
        }
        if (floor !== null) db.prepare(`DELETE FROM ${CHANGES} WHERE seq > ?`).run(floor);
        return 'commit';
      });
    } catch (e) {
      if (e instanceof MirrorApplyError) throw e;
      throw new MirrorApplyError(`mirror apply into ${this.file} failed: ${(e as Error).message}`);
    }
  }

  /** The empty apply promote tries first: every table known with its key, statements valid, the file writable. */
  async probe(tables: string[]): Promise<void> {
    try {
      this.plans = null; // the schema may have changed since the last apply
      await this.underLock(async () => {
        for (const t of tables) {
          const p = await this.plan(t);
          // a delete matching nothing (key = NULL) still needs a writable file
          p.del.run(...p.key.map(() => null));
        }
        return 'rollback';
      });
    } catch (e) {
      throw new MirrorApplyError(`mirror apply test into ${this.file} failed: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    this.engine.lock.abandon(this);
    this.db?.close();
    this.db = null;
  }

  /** The highest change row before our writes, when capture is in the file (null otherwise). */
  private captureFloor(db: Database.Database): bigint | null {
    if (!sqliteCaptureInstalled(db)) return null;
    return db.prepare(`SELECT coalesce(max(seq), 0) FROM ${CHANGES}`).pluck().get() as bigint;
  }

  private async plan(tbl: string): Promise<TablePlan> {
    let p = this.plans?.get(tbl);
    if (!p) {
      this.plans = await this.loadPlans();
      p = this.plans.get(tbl);
      if (!p) throw new MirrorApplyError(`table ${tbl} does not exist in the SQLite file ${this.file}`);
    }
    return p;
  }

  private async loadPlans(): Promise<Map<string, TablePlan>> {
    const db = this.conn();
    const out = new Map<string, TablePlan>();
    for (const t of await listSqliteTables(db)) {
      if (!t.key.length) continue; // refused by capture and check; a change row naming it fails in plan()
      const ct = capturedTable(t);
      const columns = t.columns.filter((c) => !c.generated);
      const nonKey = columns.filter((c) => !t.key.includes(c.name));
      const cols = columns.map((c) => qi(c.name)).join(', ');
      const keyCols = t.key.map(qi).join(', ');
      const onConflict = nonKey.length ? `DO UPDATE SET ${nonKey.map((c) => `${qi(c.name)} = excluded.${qi(c.name)}`).join(', ')}` : 'DO NOTHING';
      out.set(ct.tbl, {
        name: t.name,
        columns,
        known: new Set(t.columns.map((c) => c.name)),
        key: ct.key,
        upsert: db.prepare(`INSERT INTO ${qi(t.name)} (${cols}) VALUES (${columns.map(() => '?').join(', ')}) ON CONFLICT (${keyCols}) ${onConflict}`),
        del: db.prepare(`DELETE FROM ${qi(t.name)} WHERE ${t.key.map((k) => `${qi(k)} = ?`).join(' AND ')}`),
        truncate: db.prepare(`DELETE FROM ${qi(t.name)}`),
      });
    }
    return out;
  }

  /** The proxy's write lock, then SQLite's; `fn` runs in that transaction, committed or rolled back as it says. */
  private async underLock(fn: (db: Database.Database) => Promise<'commit' | 'rollback'>): Promise<void> {
    const db = this.conn();
    const timeout = this.engine.busyTimeoutMs;
    await this.engine.lock.acquire(this, timeout);
    try {
      await retryBusy(() => db.exec('BEGIN IMMEDIATE'), Date.now() + timeout, timeout);
      try {
        const end = await fn(db);
        db.exec(end === 'commit' ? 'COMMIT' : 'ROLLBACK');
      } catch (e) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw e;
      }
    } finally {
      this.engine.lock.release(this);
    }
  }
}

function keyValues(p: TablePlan, pk: string): SqliteValue[] {
  const m = scanObject(pk);
  return p.key.map((k) => {
    const v = toSqliteValue(m.get(k.name), k.type);
    if (v === null) throw new MirrorApplyError(`change row for ${p.name} lacks key column ${k.name}: ${pk}`);
    return v;
  });
}

function rowValues(p: TablePlan, row: string | Buffer): SqliteValue[] {
  const m = scanObject(row);
  // json and jsonb columns as their text (pg-capture.ts), in rows capture marked so
  const textForms = m.get(TEXT_MARKER)?.kind === 'true';
  m.delete(TEXT_MARKER);
  // a column PostgreSQL has and the file lacks would be lost silently: refuse
  for (const k of m.keys()) if (!p.known.has(k)) throw new MirrorApplyError(`${p.name} in the SQLite file has no column ${k}`);
  return p.columns.map((c) => toSqliteValue(m.get(c.name), c.type, textForms));
}
