// The SQLite engine's half of apply-before-commit: which change rows belong to
// the session's write transaction, and handing them to the proxy.
//
// SQLite has one writer. When a session takes the write lock, every change row
// already in `_cutover_changes` was committed by someone else — another process
// writing the file (out of band), or a dirty-key marker — and belongs to the
// drainer. So the session records the highest seq at that moment (its floor);
// the rows above it when it drains, just before COMMIT, are its own
// (AUTOINCREMENT never reuses a seq). The drain is a proxy-internal query the
// engine answers itself rather than SQL: a session that holds no write lock
// (a read-only transaction) must answer "nothing" without taking the lock, and
// a DELETE would take it.
import type Database from 'better-sqlite3';
import { DRAIN_LIMIT } from '../capture/dialect.ts';

/** Sent by the relay (sqlite-capture.ts' dialect); never reaches SQLite as SQL. */
export const DRAIN_QUERY = '/* cutover: drain change rows */ SELECT cutover_drain_changes()';

const CHANGES = '_cutover_changes';

export class CaptureFloor {
  private floor: bigint | null = null;
  private maxStmt: Database.Statement | null = null;
  private drainStmt: Database.Statement | null = null;
  private countStmt: Database.Statement | null = null;
  private firstStmt: Database.Statement | null = null;

  constructor(private readonly db: Database.Database) {}

  /** Just after the session took the write lock: the highest change row not its own (null: no capture). */
  taken(): void {
    try {
      this.maxStmt ??= this.db.prepare(`SELECT coalesce(max(seq), 0) FROM ${CHANGES}`).pluck();
      this.floor = this.maxStmt.get() as bigint;
    } catch {
      // no change table: capture is not installed
      this.maxStmt = null;
      this.floor = null;
    }
  }

  /** The change rows this write transaction made, removed, as text (seq, tbl, op, pk, row). */
  drain(): (string | null)[][] {
    if (this.floor === null) return [];
    // more than DRAIN_LIMIT rows (a bulk transaction) are left where they are, for the drainer after the
    // commit: the proxy applies none of them (capture/dialect.ts), so only the first ones are read to tell
    this.countStmt ??= this.db.prepare(`SELECT count(*) FROM (SELECT 1 FROM ${CHANGES} WHERE seq > ? LIMIT ${DRAIN_LIMIT + 1})`).pluck();
    if (Number(this.countStmt.get(this.floor)) > DRAIN_LIMIT) {
      this.firstStmt ??= this.db.prepare(`SELECT seq, tbl, op, pk, row FROM ${CHANGES} WHERE seq > ? ORDER BY seq LIMIT ${DRAIN_LIMIT + 1}`).raw(true);
      return (this.firstStmt.all(this.floor) as unknown[][]).map((r) => r.map((v) => (v === null ? null : String(v))));
    }
    this.drainStmt ??= this.db.prepare(`DELETE FROM ${CHANGES} WHERE seq > ? RETURNING seq, tbl, op, pk, row`).raw(true);
    const rows = this.drainStmt.all(this.floor) as unknown[][];
    return rows.map((r) => r.map((v) => (v === null ? null : String(v))));
  }
}
