// The drainer for an SQLite source: change rows no proxy session applied before
// its commit — rows another process wrote to the file (out of band), and keys
// recorded dirty after a failed mirror apply. It takes the file's write lock
// (the proxy's in-process lock, then SQLite's own), so no session writes while
// it works; reads the current row of every key in the batch; writes those rows,
// or their absence, to the mirror; and only then deletes the change rows and
// commits. Holding the lock across the apply keeps the mirror in source order:
// a session's later write to the same key reaches the mirror after ours.
import type Database from 'better-sqlite3';
import type { LiveState } from '../../common/live-state.ts';
import type { Logger } from '../../common/log.ts';
import { CHANGES, capturedTable, listSqliteTables, sqliteCaptureDialect, sqliteCaptureInstalled, type CapturedTable } from '../capture/sqlite-capture.ts';
import type { DirtyKey } from '../capture/dialect.ts';
import { engineFor, retryBusy, type FileEngine } from '../sqlite/engine.ts';
import type { Change, ChangeApplier } from './apply.ts';
import { DrainSchedule } from './drain-schedule.ts';
import { UnrecordedKeys } from './unrecorded-keys.ts';
import { ResyncWatch } from './resync-watch.ts';
import type { ChangeDrainer } from './drainer.ts';
import { mirrorMetrics } from './metrics.ts';
import { applyIsolating, requeued, tripForRefusal, type Refused } from './refused-rows.ts';

const BATCH = 1000;
const qi = (id: string) => '"' + id.replace(/"/g, '""') + '"';

interface ChangeRow {
  seq: bigint;
  tbl: string;
  op: string;
  pk: string;
}

export class SqliteDrainer implements ChangeDrainer {
  private readonly engine: FileEngine;
  private db: Database.Database | null = null;
  private running = false;
  private readonly schedule: DrainSchedule;
  backlog = 0;
  /** Out-of-band change rows applied so far (rows the proxy did not produce). */
  outOfBand = 0;
  private readonly unrecorded: UnrecordedKeys;
  /** A connection of its own: the drainer's may be inside its transaction, its deletes not yet committed. */
  private watchDb: Database.Database | null = null;
  private readonly watch = new ResyncWatch(async () => {
    if (this.unrecorded.size) return null;
    this.watchDb ??= this.engine.open();
    const b = this.watchDb.prepare(`SELECT min(seq) AS lo, max(seq) AS hi FROM ${CHANGES}`).safeIntegers(true).get() as { lo: bigint | null; hi: bigint | null };
    return { lo: b.lo, hi: b.hi };
  });

  constructor(file: string, private readonly applier: ChangeApplier, private readonly live: LiveState, private readonly log: Logger, intervalMs = 200) {
    this.engine = engineFor(file);
    this.unrecorded = new UnrecordedKeys(log);
    this.schedule = new DrainSchedule(() => this.drainOnce(), BATCH, intervalMs, (e) => log.warn({ reason: e.message }, 'drainer: could not drain; changes kept in the SQLite file'));
  }

  start(): void {
    this.schedule.start();
  }

  private conn(): Database.Database {
    this.db ??= this.engine.open();
    return this.db;
  }

  async flush(): Promise<number> {
    while (this.running) await new Promise((r) => setTimeout(r, 5));
    while ((await this.drainOnce()) === BATCH);
    return this.backlog;
  }

  async drainOnce(): Promise<number> {
    // after promote PostgreSQL is the source of truth: its drainer works, and the file has no capture
    if (this.running || this.schedule.stopped || this.live.get().sourceOfTruth !== 'legacy') return 0;
    this.running = true;
    try {
      const db = this.conn();
      // capture installed (or removed) by the operator switches mirroring on (or off)
      const installed = sqliteCaptureInstalled(db);
      // while paused, promote is moving capture between the databases: what is seen meanwhile means nothing
      if (installed !== this.live.get().mirroring && !this.live.get().paused) this.live.update({ mirroring: installed }, installed ? 'capture found in the SQLite source' : 'capture not installed');
      if (installed) await this.unrecorded.recordWith((keys) => this.underLock(db, async () => void db.exec(sqliteCaptureDialect.dirtySql(keys))));
      if (!installed || !db.prepare(`SELECT EXISTS (SELECT 1 FROM ${CHANGES})`).pluck().get()) {
        this.setBacklog(0);
        return 0;
      }
      // an apply given up earlier must not land after this re-sync: fenced off before the lock is taken
      await this.applier.fence?.();
      let refused: Refused | null = null;
      const rows = await this.underLock(db, async () => {
        const taken = db.prepare(`SELECT seq, tbl, op, pk FROM ${CHANGES} ORDER BY seq LIMIT ${BATCH}`).all() as ChangeRow[];
        if (!taken.length) return taken;
        // the rows PostgreSQL refuses isolated from the rest, which is applied (refused-rows.ts)
        refused = await applyIsolating((list) => this.applier.apply(list), await this.currentRows(db, taken));
        db.prepare(`DELETE FROM ${CHANGES} WHERE seq <= ?`).run(taken[taken.length - 1]!.seq);
        // back in the queue, in this transaction, behind what was applied: tried again at a later pass
        if (refused) db.exec(sqliteCaptureDialect.dirtySql(requeued(refused)));
        return taken;
      }).catch((e: unknown) => {
        // what waits behind the failing batch, for status and the backlog gate: not the 0 of the last good drain
        this.setBacklog(Number(db.prepare(`SELECT count(*) FROM ${CHANGES}`).pluck().get()));
        throw e;
      });
      const outOfBand = rows.filter((r) => r.op !== 'R').length;
      if (outOfBand) {
        this.outOfBand += outOfBand;
        this.log.warn({ rows: outOfBand }, `drainer: applied ${outOfBand} change row(s) written to the SQLite file outside the proxy`);
      }
      if (rows.length - outOfBand) this.log.info({ keys: rows.length - outOfBand }, 'drainer: dirty keys re-synced from the source');
      this.setBacklog(Number(db.prepare(`SELECT count(*) FROM ${CHANGES}`).pluck().get()));
      if (rows.length) mirrorMetrics.drained.inc(rows.length);
      if (refused) throw tripForRefusal(this.live, refused);
      return rows.length;
    } finally {
      this.running = false;
    }
  }

  private setBacklog(n: number): void {
    this.backlog = n;
    mirrorMetrics.backlog.set(n);
  }

  /** The proxy's write lock, then SQLite's (another process may hold it): `fn` runs in that transaction. */
  private async underLock<T>(db: Database.Database, fn: () => Promise<T>): Promise<T> {
    const timeout = this.engine.busyTimeoutMs;
    await this.engine.lock.acquire(this, timeout);
    try {
      await retryBusy(() => db.exec('BEGIN IMMEDIATE'), Date.now() + timeout, timeout);
      try {
        const out = await fn();
        db.exec('COMMIT');
        return out;
      } catch (e) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw e;
      }
    } finally {
      this.engine.lock.release(this);
    }
  }

  /** Per key, in first-seen order, its current row (an upsert) or its absence (a delete). */
  private async currentRows(db: Database.Database, rows: ChangeRow[]): Promise<Change[]> {
    const tables = new Map((await listSqliteTables(db)).map((t) => [capturedTable(t).tbl, capturedTable(t)]));
    const stmts = new Map<string, Database.Statement>();
    const seen = new Set<string>();
    const out: Change[] = [];
    for (const r of rows) {
      const id = `${r.tbl}\0${r.pk}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const t = tables.get(r.tbl);
      if (!t) throw new Error(`change rows name ${r.tbl}, which is not a table of the SQLite source`);
      let stmt = stmts.get(r.tbl);
      if (!stmt) stmts.set(r.tbl, (stmt = lookup(db, t)));
      const row = stmt.get({ pk: r.pk }) as string | undefined;
      out.push({ seq: Number(r.seq), tbl: r.tbl, op: row ? 'U' : 'D', pk: r.pk, row: row ?? null });
    }
    return out;
  }

  async stop(): Promise<void> {
    this.schedule.stop();
    this.watch.stop();
    while (this.running) await new Promise((r) => setTimeout(r, 10));
    this.db?.close();
    this.db = null;
    this.watchDb?.close();
    this.watchDb = null;
  }

  drained(withinMs: number): Promise<void> {
    return this.watch.drained(withinMs);
  }

  get clean(): boolean {
    return this.backlog === 0 && !this.unrecorded.size && !this.live.get().tripped;
  }

  recordDirty(keys: DirtyKey[]): void {
    this.unrecorded.add(keys);
  }
}

/**
 * The row of a key given as capture's pk JSON. Integer, text and real keys
 * compare directly (SQLite converts the JSON text to the column's affinity, and
 * the primary key index serves the lookup); other key types compare in the
 * captured text form.
 */
function lookup(db: Database.Database, t: CapturedTable): Database.Statement {
  const match = t.key.map((k) => {
    const v = `json_extract(@pk, '$."${k.name.replace(/"/g, '\\"')}"')`;
    const direct = k.type === 'bigint' || k.type === 'double precision' || k.type.startsWith('numeric') || k.type === 'text' || k.type.startsWith('varchar');
    return direct ? `t.${qi(k.name)} = ${v}` : `(${t.pkJson('t')}) = @pk`;
  });
  return db.prepare(`SELECT ${t.rowJson('t')} FROM ${qi(t.name)} t WHERE ${[...new Set(match)].join(' AND ')}`).pluck().safeIntegers(true);
}
