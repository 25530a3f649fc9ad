// Out-of-band changes and dirty keys: change rows no session applied before its
// commit (writes that bypassed the proxy, a mirror that failed, a source
// COMMIT that failed after the mirror committed). The drainer takes them in
// order, re-reads each key's *current* source row under FOR SHARE (so a
// concurrent writer waits and then mirrors its own newer row after us), and
// writes that row, or its absence, to the mirror; the source transaction that
// deleted the change rows commits only after the mirror did. One drainer per
// source at a time (advisory lock), whatever the number of proxies.
// A proxy has one drainer per direction; only the one whose side is the
// source of truth works (promote swaps which).
//
// A key found missing has no row to lock: a session may insert it right after
// the drainer looked, mirror it before its commit, and the drainer's delete
// would then land on the mirror after that row. So the drainer locks the key's
// bucket before it reads the key again (capture format 6: pg-capture.ts,
// KEY_BUCKETS); a bucket some writer holds puts the key back in the queue.
// Triggers of an older format take no bucket: there each delete of a missing
// key is checked again once every transaction that was running when it was
// applied has ended, and a key that exists by then is re-synced (the mirror
// lacks the row until then, about a second).
import pg from 'pg';
import type { LiveState, Side } from '../../common/live-state.ts';
import type { Logger } from '../../common/log.ts';
import { pgPool } from '../../common/pg-config.ts';
import { bucketOfSql, bucketTableSql, CAPTURE_VERSION, installedCaptureVersion, pgCaptureDialect, rowJsonExprSql, SCHEMA } from '../capture/pg-capture.ts';
import type { ChangeApplier, Change } from './apply.ts';
import type { DirtyKey } from '../capture/dialect.ts';
import { LEDGER_SCHEMA } from './ledger.ts';
import { mirrorMetrics } from './metrics.ts';
import { DrainSchedule } from './drain-schedule.ts';
import { UnrecordedKeys } from './unrecorded-keys.ts';
import { ResyncWatch } from './resync-watch.ts';
import { drainBudget, ROW_AS_BYTES } from './drain-budget.ts';
import { LargeRowReader } from './large-rows.ts';
import { applyIsolating, requeued, tripForRefusal, type Refused } from './refused-rows.ts';

const BATCH = 1000;
/** How often the mirror's ledger is reconciled, and how old an entry must be: its source COMMIT follows its apply within milliseconds. */
const LEDGER_EVERY_MS = 1_000;
const LEDGER_MIN_AGE_MS = 2_000;
const REFUSED_KEPT = 10_000;
const LOCK_KEY = 0x43_55_54_4f; // "CUTO"
/** How long a drain waits for a row lock: half of PostgreSQL's default deadlock_timeout. */
const DRAIN_LOCK_TIMEOUT_MS = 500;
/** The first capture format whose triggers lock new keys' buckets (pg-capture.ts, KEY_BUCKETS). */
const BUCKET_FORMAT = 6;
/** lock_not_available: the drain's lock_timeout passed. */
const LOCK_BUSY = '55P03';
const qi = (c: string) => '"' + c.replace(/"/g, '""') + '"';
// the row's alias: a bare `t` in to_json(t) was ambiguous in a table with a column named t, and every drain failed
const ROW = 'cutover_row';
/** The pk jsonb of the row by its key columns, as capture builds it (same key, same text). */
const keyJson = (keyCols: string[]) => `jsonb_build_object(${keyCols.map((c) => `'${c.replace(/'/g, "''")}', ${ROW}.${qi(c)}`).join(', ')})::text`;
/**
 * From this many bytes (its text and bytea columns' octet_length, other
 * columns as stored: pg_column_size; both read from a toasted value's pointer,
 * never detoasting it) a row is large: its JSON is left out of the drainer's
 * read, which gives its ctid instead, and LargeRowReader reads it as bytes.
 * Its JSON is then made once, by that read: the JSON's own length would have
 * had the source make it twice (6.7 s instead of 4.5 s to re-sync one 50 MB
 * bytea). Half of ROW_AS_BYTES: a row's JSON is rarely shorter (bytea
 * doubles as hex), and a json or array value compressed below it is at most
 * a few MB of JSON.
 */
const STORED_LARGE = ROW_AS_BYTES / 2;
/** `row`, `at` and `stored` of the drainer's reads: the row's JSON (`json`), or the ctid and stored bytes of a large row (`size`). */
const rowOrCtid = ({ json, size }: RowExprs) =>
  `CASE WHEN (${size}) < ${STORED_LARGE} THEN ${json}::text END AS row, CASE WHEN (${size}) >= ${STORED_LARGE} THEN ${ROW}.ctid::text END AS at,
   CASE WHEN (${size}) >= ${STORED_LARGE} THEN (${size}) END AS stored`;
/**
 * Bytes (as STORED_LARGE measures them) of large rows one drain batch
 * re-syncs at most, a quarter of the drain budget (64 MB), and at least one
 * row whatever its size: the others go back to the queue for the next batch.
 * A batch is one mirror transaction, and its rows are held until it commits:
 * four 50 MB bytea rows written at once held 406 MB of the proxy.
 */
const largePerBatch = () => drainBudget.limit / 4;

/** A drain batch's large rows: what they take of the drain budget (given back after the apply), and their stored bytes so far. */
interface LargeBatch {
  holds: (() => void)[];
  stored: number;
  /** Whether large rows past largePerBatch() wait for the next batch (not after a failed one: see deferLarge). */
  defer: boolean;
}

/** What the drainer's reads give for a row. */
interface ReadRow {
  row: string | null;
  at: string | null;
  stored: string | null;
}

/** A table's captured-row expression (rowJsonExprSql) and its stored size, of its rows aliased ROW. */
interface RowExprs {
  json: string;
  size: string;
}

/**
 * One batch of change rows, oldest first, taken and deleted. The batch is
 * picked once (ARRAY(…) is an init plan) and its rows deleted by ctid. As
 * `seq IN (SELECT …)` the plan followed the statistics: analyzed while the
 * change table was empty, its usual state, it estimated one row and took a
 * nested loop that ran the locking subquery again for every change row,
 * quadratic in the backlog (34,000 rows left by a bulk transaction drained
 * nothing in 120 s; one batch takes milliseconds now).
 */
const drainBatchSql = (limit: number) => `DELETE FROM ${SCHEMA}.changes WHERE ctid = ANY (ARRAY(
    SELECT ctid FROM ${SCHEMA}.changes ORDER BY seq LIMIT ${limit} FOR UPDATE SKIP LOCKED))
  RETURNING seq, tbl, op, pk::text`;
export const DRAIN_BATCH_SQL = drainBatchSql(BATCH);

/** What the proxy and the control plane see of a drainer, whatever the source kind. */
export interface ChangeDrainer {
  /** Change rows waiting, as last counted. */
  backlog: number;
  start(): void;
  /** Drain one batch; returns how many change rows it took. */
  drainOnce(): Promise<number>;
  stop(): Promise<void>;
  /** Drain until nothing is left (promote, finalize); returns the backlog then. */
  flush(): Promise<number>;
  readonly clean: boolean;
  /**
   * Keys a session could not record dirty itself (its source connection was
   * lost after the mirror was written): recorded on the source by the next
   * drain, before it takes anything, and kept until then.
   */
  recordDirty(keys: DirtyKey[]): void;
  /** Source transactions a session of this proxy saw fail at COMMIT after the mirror applied them (reconcileLedger). */
  commitsRefused?(txids: string[]): void;
  /** Resolves once every change row now on the source has been drained (by any proxy); rejects after `withinMs`. */
  drained(withinMs: number): Promise<void>;
}

export class Drainer implements ChangeDrainer {
  private pool: pg.Pool;
  private readonly large: LargeRowReader;
  private running = false;
  private readonly schedule: DrainSchedule;
  /** Change rows waiting, as last counted. */
  backlog = 0;
  private fullBatches = 0;
  /**
   * Change rows the next drain takes. A batch share-locks its keys one table after another; writers
   * holding one of them and wanting another the batch already holds (pgbench tpcb-like's few branch
   * and teller rows, through the proxy, after the new database came back) made a cycle the drain's
   * lock_timeout broke on every attempt: 8168 change rows stayed waiting while the load ran, and
   * reads could not resume. After a lock wait the batch shrinks, down to one key (one lock: no
   * cycle), and grows back with every drain that goes through.
   */
  private limit = BATCH;
  /** Changes the last batch could not apply (the mirror refused them) and queued again. */
  private refusal: Refused | null = null;
  /**
   * Whether a batch may leave large rows for the next one (largePerBatch).
   * Not right after a failed batch: rows applied in separate mirror
   * transactions could fail where one would not (a unique value moved from a
   * deferred row to another), and the same split would fail every time.
   */
  private deferLarge = true;
  /** Whether the last batch left large rows for the next one: more is waiting, however short the batch was. */
  private largeLeft = false;
  /** The limit the last drain took: a drain that filled it is followed at once by another. */
  private lastLimit = BATCH;
  /**
   * Deletes of missing keys to check again once every transaction that may have inserted one has
   * ended: each with a transaction ID taken after its deletes were applied (null until taken).
   */
  private rechecks: { after: bigint | null; keys: { tbl: string; pk: string }[] }[] = [];
  private readonly unrecorded: UnrecordedKeys;
  /**
   * Per table, the expression making a row its captured JSON (as the capture
   * trigger builds it: rowJsonExprSql), read once and forgotten whenever a drain
   * fails: one that names a column dropped since (allowDdl) fails every read.
   */
  private rowJson = new Map<string, RowExprs>();
  /** Whether the current batch used an expression read by an earlier one. */
  private rowJsonCached = false;
  private ledgerCheckedAt = 0;
  /** Whether the installed capture format was compared with this version's since capture was found. */
  private formatChecked = false;
  /** Whether the installed triggers lock new keys' buckets: if not, deletes of missing keys are re-checked. */
  private bucketsLocked = false;
  private ledgerOffSaid = false;
  /** commitsRefused's transactions, until the ledger is reconciled past them (at most REFUSED_KEPT, the oldest dropped). */
  private readonly refusedCommits = new Set<string>();
  private readonly watch = new ResyncWatch(async () => {
    if (this.unrecorded.size) return null;
    const b = await this.pool.query<{ lo: string | null; hi: string | null }>(`SELECT min(seq)::text AS lo, max(seq)::text AS hi FROM ${SCHEMA}.changes`);
    const { lo, hi } = b.rows[0]!;
    return { lo: lo === null ? null : BigInt(lo), hi: hi === null ? null : BigInt(hi) };
  });

  constructor(
    sourceUrl: string,
    private readonly applier: ChangeApplier,
    private readonly live: LiveState,
    private readonly log: Logger,
    intervalMs = 200,
    /** The database this drainer reads: it works only while that side is the source of truth. */
    readonly side: Side = 'legacy',
  ) {
    this.pool = pgPool(sourceUrl, { application_name: 'cutover-drainer', max: 2, connectionTimeoutMillis: 5_000 });
    this.pool.on('error', () => undefined);
    this.pool.on('connect', (c) => c.on('error', () => undefined));
    this.large = new LargeRowReader(sourceUrl, DRAIN_LOCK_TIMEOUT_MS);
    this.unrecorded = new UnrecordedKeys(log);
    this.schedule = new DrainSchedule(() => this.drainOnce(), () => this.lastLimit, intervalMs, (e) => log.warn({ reason: e.message }, 'drainer: a drain failed (source or mirror); changes kept on the source, retrying'));
  }

  start(): void {
    this.schedule.start();
  }

  /** Drain one batch; returns how many change rows it took. */
  async drainOnce(): Promise<number> {
    if (this.running || this.live.get().sourceOfTruth !== this.side) return 0;
    this.running = true;
    try {
      let n: number;
      try {
        n = await this.drainBatch();
      } catch (e) {
        // a row an application holds: nothing failed, the next tick takes the batch again
        if ((e as { code?: string }).code === LOCK_BUSY) {
          mirrorMetrics.drainLockWaits.inc();
          this.limit = Math.max(1, Math.floor(this.limit / 8));
          return 0;
        }
        // a column dropped since a cached row expression was read (allowDdl): read again, drained at once
        if ((e as { code?: string }).code !== '42703' || !this.rowJsonCached) throw e;
        n = await this.drainBatch();
      }
      // committed, with the refused keys queued again: a failed drain for the schedule, which backs off and says why
      if (this.refusal) throw tripForRefusal(this.live, this.refusal);
      return n;
    } finally {
      // whatever failed, connecting included (a source restarting): left set, this flag made every
      // later drain a no-op and the drainer never worked again
      this.running = false;
    }
  }

  /** One batch on a source connection of its own: see drainOnce. */
  private async drainBatch(): Promise<number> {
    this.rowJsonCached = false;
    this.largeLeft = false;
    this.refusal = null;
    const src = await this.pool.connect();
    let ok = false;
    try {
      // capture installed (or removed) by the operator switches mirroring on (or off)
      const has = await src.query(`SELECT to_regclass('${SCHEMA}.changes') IS NOT NULL AS ok`);
      const installed = Boolean(has.rows[0].ok);
      // while paused, promote is moving capture between the databases: capture missing then means nothing,
      // but capture present always means writes must be mirrored (a proxy started during a pause learns it)
      if (installed !== this.live.get().mirroring && (installed || !this.live.get().paused)) this.live.update({ mirroring: installed }, installed ? 'capture found on the source' : 'capture not installed');
      if (!installed) {
        this.backlog = 0;
        this.formatChecked = false;
        ok = true;
        return 0;
      }
      if (!this.formatChecked) {
        this.formatChecked = true;
        const format = await installedCaptureVersion(src);
        this.bucketsLocked = format !== null && format >= BUCKET_FORMAT;
        if (format !== CAPTURE_VERSION) this.log.warn({ installed: format ?? 'older', current: CAPTURE_VERSION }, 'capture was installed by an older Cutover: run "cutover capture install" again (idempotent) for what this version captures');
      }
      await this.unrecorded.recordWith(async (keys) => void (await src.query(pgCaptureDialect.dirtySql(keys))));
      if (this.rechecks.length) await this.recheckMissing(src);
      // an apply given up earlier must not land after this re-sync: fenced off before any source row is locked
      await this.applier.fence?.();
      await this.reconcileLedger(src);
      // A writer on the source itself (not through a proxy) may lock the rows this batch share-locks in
      // another order: the drainer gives up first, well before PostgreSQL's deadlock check (1 s) could pick
      // the application's transaction to fail, and tries again at the next tick (LOCK_BUSY)
      await src.query(`BEGIN; SET LOCAL lock_timeout = '${DRAIN_LOCK_TIMEOUT_MS}ms'`);
      const lock = await src.query('SELECT pg_try_advisory_xact_lock($1) AS got', [LOCK_KEY]);
      if (!lock.rows[0].got) {
        await src.query('ROLLBACK');
        ok = true;
        return 0;
      }
      const limit = (this.lastLimit = this.limit);
      const taken = await src.query<{ seq: string; tbl: string; op: string; pk: string }>(limit === BATCH ? DRAIN_BATCH_SQL : drainBatchSql(limit));
      const rows = taken.rows.sort((a, b) => Number(a.seq) - Number(b.seq));
      let missing: Change[] = [];
      if (rows.length) {
        const large: LargeBatch = { holds: [], stored: 0, defer: this.deferLarge };
        // until this batch has gone through: one that fails again with large rows deferred keeps them together
        this.deferLarge = false;
        try {
          const changes = await this.currentRows(src, rows, true, large);
          // the rows the mirror refuses isolated from the rest, which is applied (refused-rows.ts)
          const refused = await applyIsolating((list) => this.applier.apply(list), changes);
          if (refused) {
            // back in the queue, in this transaction, behind what was applied: tried again at a later pass
            await src.query(pgCaptureDialect.dirtySql(requeued(refused)));
            this.refusal = refused;
          }
          if (!this.bucketsLocked) missing = changes.filter((c) => c.op === 'D');
        } finally {
          for (const release of large.holds) release();
        }
      }
      await src.query('COMMIT');
      this.deferLarge = true;
      this.limit = Math.min(BATCH, limit * 2);
      if (missing.length) this.rechecks.push({ after: null, keys: missing.map((c) => ({ tbl: c.tbl, pk: c.pk })) });
      ok = true;
      // a full batch means more is waiting, and the next batch follows at once: the rest is counted (a scan
      // of the change table) when a batch comes back short and every tenth full one, not once per batch of
      // a long backlog (a 300,000-row transaction left to the drainer: caught up in 5.6 s instead of 9.8 s)
      if (rows.length === limit && ++this.fullBatches % 10 !== 0) this.backlog = Math.max(1, this.backlog - rows.length);
      else this.backlog = (await src.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.changes`)).rows[0].n;
      mirrorMetrics.backlog.set(this.backlog);
      if (rows.length) mirrorMetrics.drained.inc(rows.length);
      return rows.length;
    } catch (e) {
      this.rowJson.clear();
      await src.query('ROLLBACK').catch(() => undefined);
      // what waits behind the failing batch, for status: not the count from before it failed
      await src.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.changes`).then((r) => {
        this.backlog = r.rows[0].n;
        mirrorMetrics.backlog.set(this.backlog);
      }, () => undefined);
      throw e;
    } finally {
      src.release(!ok);
    }
  }

  /**
   * The mirror's ledger (ledger.ts), every LEDGER_EVERY_MS: entries whose source
   * transaction did not commit (its proxy died between the apply and the
   * COMMIT) have their keys recorded dirty here, then every finished entry is
   * dropped from the mirror. Run by whichever proxy drains: after a crash, the
   * next one.
   */
  private async reconcileLedger(src: pg.PoolClient): Promise<void> {
    if (!this.applier.ledgerDue || Date.now() - this.ledgerCheckedAt < LEDGER_EVERY_MS) return;
    this.ledgerCheckedAt = Date.now();
    if (this.applier.ledgerOff && !this.ledgerOffSaid) {
      this.ledgerOffSaid = true;
      this.log.warn({ reason: this.applier.ledgerOff }, `drainer: no ledger on the mirror (${LEDGER_SCHEMA}): a proxy that dies between a mirror apply and its source COMMIT leaves that transaction on the mirror until cutover verify --repair`);
    }
    const due = await this.applier.ledgerDue(LEDGER_MIN_AGE_MS);
    if (!due.length) return;
    const txids = [...new Set(due.map((d) => d.txid))];
    // an id not below one assigned now was never assigned here (a ledger left by another source): not committed.
    // (Not the snapshot's xmax: that is one past the newest *ended* transaction, and a running one at or
    // above it would be taken for lost, its inserted keys re-synced as missing before it commits.)
    const status = await src.query<{ txid: string; status: string | null }>(
      `SELECT x::text AS txid, CASE WHEN x < txid_current() THEN txid_status(x) END AS status FROM unnest($1::bigint[]) AS x`,
      [txids],
    );
    const finished = status.rows.filter((r) => r.status !== 'in progress').map((r) => r.txid);
    const lost = new Set(status.rows.filter((r) => r.status !== 'committed' && r.status !== 'in progress').map((r) => r.txid));
    const keys = due.filter((d) => lost.has(d.txid)).map((d) => ({ tbl: d.tbl, pk: d.pk }));
    if (keys.length) {
      await src.query(pgCaptureDialect.dirtySql(keys));
      // a COMMIT the source refused (a deferred constraint, a serialization failure) was seen, and re-synced, by
      // its session: only the rest point at a proxy that stopped
      const unexplained = new Set([...lost].filter((t) => !this.refusedCommits.has(t)));
      if (unexplained.size) this.log.warn({ transactions: unexplained.size, keys: due.filter((d) => unexplained.has(d.txid)).length }, 'drainer: the mirror has transactions the source did not commit (a proxy stopped between apply and COMMIT); re-syncing their keys');
      if (unexplained.size < lost.size) this.log.info({ transactions: lost.size - unexplained.size }, 'drainer: transactions whose source COMMIT was refused after the mirror applied them; their keys are re-synced');
    }
    await this.applier.ledgerForget?.(finished);
    for (const t of finished) this.refusedCommits.delete(t);
  }

  commitsRefused(txids: string[]): void {
    for (const t of txids) this.refusedCommits.add(t);
    for (const t of this.refusedCommits) {
      if (this.refusedCommits.size <= REFUSED_KEPT) break;
      this.refusedCommits.delete(t);
    }
  }

  recordDirty(keys: DirtyKey[]): void {
    this.unrecorded.add(keys);
  }

  drained(withinMs: number): Promise<void> {
    return this.watch.drained(withinMs);
  }

  /**
   * Deletes of missing keys whose racing transactions have all ended (the
   * oldest running transaction is past one that began after the delete):
   * keys that exist now are recorded dirty for the next drain.
   */
  private async recheckMissing(src: pg.PoolClient): Promise<void> {
    // A session that inserted one of the keys and mirrored it before the delete landed had its
    // transaction ID by then, so it is below one assigned now. A snapshot's xmax is no such bound:
    // it is one past the newest *ended* transaction, and a running one may be at or above it.
    if (this.rechecks.some((r) => r.after === null)) {
      const id = BigInt((await src.query<{ id: string }>(`SELECT txid_current()::text AS id`)).rows[0]!.id);
      for (const r of this.rechecks) r.after ??= id;
    }
    const now = await src.query<{ xmin: string }>(`SELECT txid_snapshot_xmin(txid_current_snapshot())::text AS xmin`);
    const xmin = BigInt(now.rows[0]!.xmin);
    const due = this.rechecks.filter((r) => r.after! < xmin);
    if (!due.length) return;
    const keys = due.flatMap((r) => r.keys);
    // a batch's worth of keys per statement: a bulk DELETE's 200,000 keys in one held the event loop,
    // and every session with it, for about 0.3 s while its text was built and its answer read
    let found = 0;
    for (let i = 0; i < keys.length; i += BATCH) {
      const chunk = keys.slice(i, i + BATCH);
      const present = (await this.currentRows(src, chunk.map((k, j) => ({ seq: String(i + j), tbl: k.tbl, op: 'U', pk: k.pk })), false)).filter((c) => c.op === 'U');
      if (present.length) await src.query(pgCaptureDialect.dirtySql(present));
      found += present.length;
    }
    this.rechecks = this.rechecks.filter((r) => !due.includes(r));
    if (found) this.log.warn({ keys: found }, 'drainer: keys deleted on the mirror were inserted meanwhile; re-syncing them');
  }

  /**
   * Per table, the keys' current rows (locked FOR SHARE), in first-seen order;
   * missing keys become deletes. A truncate re-copies its whole table: the
   * mirror's is emptied, then every row the source has now is written. Rows
   * written since the truncate by sessions that mirrored them themselves have
   * no change row left for this drain, so only a whole copy keeps them; the
   * table is locked against writers (SHARE) while it is read, so every such
   * session has either committed before or writes after.
   */
  private async currentRows(src: pg.PoolClient, rows: { seq: string; tbl: string; op: string; pk: string }[], lock = true, batch?: LargeBatch): Promise<Change[]> {
    const out: Change[] = [];
    const byTable = new Map<string, Map<string, number>>();
    const whole = new Map<string, number>();
    for (const r of rows) {
      // a re-sync row with no key is a truncate recorded dirty by an older proxy
      if (r.op === 'T' || r.pk === '{}') {
        out.push({ seq: Number(r.seq), tbl: r.tbl, op: 'T', pk: '{}', row: null });
        byTable.delete(r.tbl);
        whole.set(r.tbl, Number(r.seq));
        continue;
      }
      if (whole.has(r.tbl)) continue;
      let keys = byTable.get(r.tbl);
      if (!keys) byTable.set(r.tbl, (keys = new Map()));
      if (!keys.has(r.pk)) keys.set(r.pk, Number(r.seq));
    }
    for (const [tbl, seq] of whole) {
      if (lock) await src.query(`LOCK TABLE ${tbl} IN SHARE MODE`);
      const keyCols = (await src.query<{ attname: string }>(
        `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
          WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`,
        [tbl],
      )).rows.map((r) => r.attname);
      if (!keyCols.length) throw new Error(`drainer: ${tbl} has no primary key to re-copy it by after a truncate`);
      const rowJson = await this.rowJsonOf(src, tbl);
      const all = await src.query<{ pk: string } & ReadRow>(
        `SELECT ${keyJson(keyCols)} AS pk, ${rowOrCtid(rowJson)} FROM ${tbl} ${ROW}`,
      );
      const large = await this.largeRows(tbl, rowJson, all.rows, batch);
      for (const f of all.rows) out.push({ seq, tbl, op: 'U', pk: f.pk, row: f.row ?? large.get(f.at!) ?? null });
      if (all.rows.length) this.log.warn({ table: tbl, rows: all.rows.length }, 'drainer: a truncate re-synced: the table re-copied from the source');
    }
    const later: { tbl: string; pk: string }[] = [];
    for (const [tbl, keys] of byTable) {
      const pks = [...keys.keys()];
      // the key's column names are the pk object's own keys (jsonb text is canonical: same key, same text)
      const keyCols = Object.keys(JSON.parse(pks[0]!) as object);
      const rowJson = await this.rowJsonOf(src, tbl);
      // matched to the keys asked for by value, by their place in the list: not by the text the row's key
      // makes here, which a change row written in another time zone (an older capture format) did not share
      // (without `batch`, only whether each key has a row matters: a large row is not read)
      const deferred = new Set<string>();
      const read = async (want: string[], first: boolean) => {
        const found = (await src.query<{ n: string } & ReadRow>(
          `SELECT cutover_key.n, ${rowOrCtid(rowJson)}
             FROM ${tbl} ${ROW} JOIN (SELECT e.n, jsonb_populate_record(NULL::${tbl}, e.v) AS r FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(v, n)) cutover_key
               ON ${keyCols.map((c) => `${ROW}.${qi(c)} = (cutover_key.r).${qi(c)}`).join(' AND ')}
              ${lock ? `FOR SHARE OF ${ROW}` : ''}`,
          ['[' + want.join(',') + ']'],
        )).rows;
        const pkOf = (f: { n: string }) => want[Number(f.n) - 1]!;
        if (first && batch?.defer) {
          for (const f of found) {
            if (f.stored === null) continue;
            // the first large row always goes, however large
            if (batch.stored > 0 && batch.stored + Number(f.stored) > largePerBatch()) {
              deferred.add(pkOf(f));
              this.largeLeft = true;
              f.at = null;
            } else batch.stored += Number(f.stored);
          }
        }
        const large = batch ? await this.largeRows(tbl, rowJson, found, batch) : new Map<string, Buffer | string>();
        return found.map((f) => ({ pk: pkOf(f), row: f.row ?? large.get(f.at!) ?? null }));
      };
      const current = new Map((await read(pks, true)).map((f) => [f.pk, f.row]));
      const gone = lock && this.bucketsLocked ? pks.filter((pk) => !current.has(pk)) : [];
      const busy = new Set<string>();
      if (gone.length) {
        const { locked, held } = await this.lockMissing(src, tbl, gone);
        // read again after the lock: a session that inserted one of them and committed meanwhile (its
        // row mirrored before this delete could land) is seen now, and one still inserting holds the bucket
        for (const f of locked.length ? await read(locked, false) : []) current.set(f.pk, f.row);
        for (const pk of held) busy.add(pk);
      }
      for (const pk of pks) {
        if (busy.has(pk) || deferred.has(pk)) {
          later.push({ tbl, pk });
          continue;
        }
        const row = current.get(pk);
        out.push({ seq: keys.get(pk)!, tbl, op: current.has(pk) ? 'U' : 'D', pk, row: row ?? null });
      }
    }
    // back in the queue, in this transaction: taken again by a later drain, once their writers have ended
    if (later.length) {
      await src.query(pgCaptureDialect.dirtySql(later));
      mirrorMetrics.drainKeysDeferred.inc(later.length);
    }
    return out;
  }

  /**
   * Missing keys of `tbl`, their buckets taken exclusively for this
   * transaction without waiting: `locked` may be written as deletes (after
   * they are read again), `held` are in buckets a writer of new keys holds.
   * Not waiting: a waiting exclusive lock would hold up every writer of new
   * keys in the bucket behind it, and the drainer holds row locks meanwhile.
   */
  private async lockMissing(src: pg.PoolClient, tbl: string, pks: string[]): Promise<{ locked: string[]; held: string[] }> {
    const r = await src.query<{ pk: string; got: boolean }>(
      `SELECT k.pk, pg_try_advisory_xact_lock(${bucketTableSql('$1::text')}, ${bucketOfSql('k.pk')}) AS got FROM unnest($2::text[]) WITH ORDINALITY AS k(pk, n) ORDER BY k.n`,
      [tbl, pks],
    );
    return { locked: r.rows.filter((k) => k.got).map((k) => k.pk), held: r.rows.filter((k) => !k.got).map((k) => k.pk) };
  }

  /**
   * The large rows among `read` (their JSON left out for their ctid), read as
   * bytes; what they take of the drain budget is given back by the function
   * added to the batch's holds, once they are applied.
   */
  private async largeRows(tbl: string, rowJson: RowExprs, read: ReadRow[], batch: LargeBatch | undefined): Promise<Map<string, string | Buffer>> {
    const ctids = read.filter((f) => f.row === null && f.at !== null).map((f) => f.at!);
    if (!ctids.length || !batch) return new Map();
    const { rows, release } = await this.large.read(tbl, ROW, rowJson.json, ctids);
    batch.holds.push(release);
    return rows;
  }

  /**
   * The captured-row expression of `tbl`'s rows aliased ROW: the same JSON its
   * capture trigger writes, so a re-sync carries the same values; and their
   * stored size (STORED_LARGE).
   */
  private async rowJsonOf(src: pg.PoolClient, tbl: string): Promise<RowExprs> {
    let exprs = this.rowJson.get(tbl);
    if (exprs !== undefined) this.rowJsonCached = true;
    else {
      exprs = (await src.query<RowExprs>(
        `SELECT (${rowJsonExprSql('$1::regclass', ROW)}) AS json,
                (SELECT coalesce(string_agg(format('coalesce(%s(%s.%I), 0)::bigint',
                                                   CASE WHEN atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'bytea'::regtype) THEN 'octet_length' ELSE 'pg_column_size' END,
                                                   '${ROW}', attname), ' + ' ORDER BY attnum), '0')
                   FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped) AS size`,
        [tbl],
      )).rows[0]!;
      this.rowJson.set(tbl, exprs);
    }
    return exprs;
  }

  /** Drain until nothing is left (promote waits on this); returns the change rows still waiting. */
  async flush(): Promise<number> {
    while (this.running) await new Promise((r) => setTimeout(r, 5));
    while ((await this.drainOnce()) === this.lastLimit || this.largeLeft);
    return this.backlog;
  }

  async stop(): Promise<void> {
    this.schedule.stop();
    this.watch.stop();
    while (this.running) await new Promise((r) => setTimeout(r, 10));
    this.large.close();
    await this.pool.end();
  }

  /** Reads to the target may resume only once nothing is left to drain. */
  get clean(): boolean {
    return this.backlog === 0 && !this.unrecorded.size && !this.live.get().tripped;
  }
}
