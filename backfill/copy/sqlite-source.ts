// Reading batches from an SQLite source. A batch is read inside a write
// transaction (BEGIN IMMEDIATE) that stays open until the target committed the
// batch: SQLite has one writer, so the proxy's mirrored writes to those rows
// wait for the batch and then reach the target after it; none is lost and a
// deleted row is never brought back. Waiting for the lock never blocks the
// event loop: SQLITE_BUSY is retried on a timer.
import type Database from 'better-sqlite3';
import { openSqliteFile } from '../../common/sqlite-file.ts';
import type { TableDef } from '../schema/model.ts';
import { copiedColumns, qi } from '../schema/model.ts';
import type { Key } from './keys.ts';
import { isUtf8File, sqliteCopyLine } from './sqlite-copy-text.ts';
import { engineFor } from '../../proxy/sqlite/engine.ts';
import { rowidName, withoutRowid } from './rowid-order.ts';


export interface SqliteBatch {
  /** COPY CSV, one buffer per chunk. */
  text: Buffer[];
  rows: number;
  last: Key | null;
  /** Whether the batch stopped at its row or byte limit (more rows may follow). */
  full: boolean;
}

const LOCK_WAIT_MS = 30_000;

export function openSqlite(path: string, readonly = false): Database.Database {
  const db = openSqliteFile(path, { readonly, fileMustExist: true });
  db.defaultSafeIntegers(true);
  if (!readonly) db.pragma('busy_timeout = 0'); // we wait ourselves, off the event loop
  return db;
}

/**
 * SQLite's write lock, held by one connection of this process on behalf of
 * every worker reading the file: while it is held no other connection can
 * commit, so each worker's plain reads see current rows that stay as read
 * until the lock goes. It is held in epochs of at most HOLD_MS, then let go
 * for YIELD_MS so that the application's writers (which retry on a timer)
 * get their turn; a worker that wants more waits for the next epoch.
 */
export class SqliteLockEpochs {
  static readonly HOLD_MS = 250;
  static readonly YIELD_MS = 50;
  private readonly conn: Database.Database;
  private held = false;
  private since = 0;
  private users = 0;
  private lastRelease = 0;
  private acquiring: Promise<void> | null = null;
  private waiting: (() => void)[] = [];
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(path: string) {
    this.conn = openSqlite(path);
  }

  /** Whether a worker inside the epoch may start another batch. */
  get fresh(): boolean {
    return Date.now() - this.since < SqliteLockEpochs.HOLD_MS;
  }

  async enter(): Promise<void> {
    for (;;) {
      if (this.held && this.fresh) {
        if (this.idleTimer) clearTimeout(this.idleTimer);
        this.idleTimer = null;
        this.users++;
        return;
      }
      if (this.held) {
        await new Promise<void>((r) => this.waiting.push(r));
        continue;
      }
      this.acquiring ??= this.acquire().finally(() => (this.acquiring = null));
      await this.acquiring;
    }
  }

  leave(): void {
    this.users--;
    if (this.users > 0) return;
    if (!this.fresh) return this.release();
    // a worker going round its loop re-enters at once; an idle epoch ends soon
    this.idleTimer = setTimeout(() => this.users === 0 && this.held && this.release(), 2);
  }

  close(): void {
    if (this.held) this.release();
    this.conn.close();
  }

  private async acquire(): Promise<void> {
    const wait = this.lastRelease + SqliteLockEpochs.YIELD_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await lockImmediate(this.conn);
    this.held = true;
    this.since = Date.now();
  }

  private release(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    commitImmediate(this.conn);
    this.held = false;
    this.lastRelease = Date.now();
    for (const w of this.waiting.splice(0)) w();
  }
}

/**
 * BEGIN IMMEDIATE, waiting for other writers without blocking the event loop.
 * First in the queue of this process's SQLite engine (proxy/sqlite/engine.ts):
 * when the proxy serves the file in this same process (the demo), its sessions
 * hand the write lock to each other without a gap, and polling SQLite alone
 * would starve. Released by commitImmediate.
 */
export async function lockImmediate(db: Database.Database): Promise<void> {
  const started = Date.now();
  const inProcess = engineFor(db.name).lock;
  await inProcess.acquire(db, LOCK_WAIT_MS);
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    try {
      db.exec('BEGIN IMMEDIATE');
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() - started > LOCK_WAIT_MS) {
        inProcess.release(db);
        throw e;
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** COMMIT of a lockImmediate transaction, and the in-process lock let go. */
export function commitImmediate(db: Database.Database): void {
  try {
    if (db.inTransaction) db.exec('COMMIT');
  } finally {
    engineFor(db.name).lock.release(db);
  }
}

export interface SqliteTableStats {
  rows: number;
  /** The largest record in the table, in bytes (null: dbstat is not there to say). */
  maxPayload: number | null;
}

/**
 * Rows and largest record of a table, from one walk of its pages (dbstat,
 * which reads cell counts and sizes without decoding a value): a rowid
 * table's rows are its leaf cells. A backfill takes them once per table at
 * its start, for the count, the chunk size and every range.
 */
export function sqliteTableStats(db: Database.Database, t: TableDef): SqliteTableStats {
  const count = () => Number(db.prepare(`SELECT count(*) FROM ${qi(t.name)}`).pluck().get());
  try {
    const r = db.prepare(`SELECT sum(ncell), max(mx_payload) FROM dbstat WHERE name = ? AND pagetype = 'leaf'`).raw().get(t.name) as (number | bigint | null)[];
    // a WITHOUT ROWID table keeps rows in its interior pages too
    return { rows: withoutRowid(db, t.name) ? count() : Number(r[0] ?? 0), maxPayload: r[1] === null ? null : Number(r[1]) };
  } catch {
    return { rows: count(), maxPayload: null };
  }
}

/** Text handed over by SQLite per call: a few hundred rows at once, cheap per row, small enough to bound memory. */
const CHUNK_BYTES = 1 << 20;
const CHUNK_ROWS = 1000;
/** Rows per chunk when the table's largest row cannot be learnt (no dbstat). */
const BLIND_CHUNK_ROWS = 32;

/**
 * A chunk's lines joined by SQLite, newline-terminated, handed over as bytes:
 * a BLOB reaches JavaScript as a Buffer copied from SQLite's memory, where
 * text would be decoded into a string and encoded back for the socket (two
 * passes over every byte, and a string of a megabyte per chunk left for the
 * garbage collector). Only for a UTF-8 file: a BLOB keeps the file's own
 * text encoding, and COPY is sent UTF-8.
 */
const chunkText = (line: string, utf8: boolean) => (utf8 ? `CAST(group_concat(${line}, char(10)) || char(10) AS BLOB)` : `group_concat(${line}, char(10)) || char(10)`);

interface TablePlan {
  /** One chunk, from the start or after a key, up to the end or to a key: [csv text, row count, last key…]. */
  statements: Map<string, Database.Statement>;
  rows: number;
}

export class SqliteBatchReader {
  private plans = new Map<string, TablePlan>();
  private readonly utf8: boolean;

  /** `stats`: the tables' figures taken at the start of the backfill (else each table is walked when first read). */
  constructor(readonly db: Database.Database, private readonly stats?: ReadonlyMap<string, SqliteTableStats>) {
    this.utf8 = isUtf8File(db);
  }

  /** Takes SQLite's write lock, waiting for other writers without blocking the event loop. */
  async lock(): Promise<void> {
    await lockImmediate(this.db);
  }

  unlock(): void {
    commitImmediate(this.db);
  }

  /**
   * Up to `limit` rows (and about `maxBytes` of text) after `after` and up to
   * `upTo` (a range's end, inclusive), as COPY text, in key order. SQLite hands the rows over a chunk at a time, already
   * joined (group_concat), so JavaScript touches one string per chunk rather
   * than one row object per row; between chunks the event loop runs and the
   * batches already handed to the target keep flowing into their sockets, so
   * PostgreSQL ingests while SQLite reads. `byRowid`: in rowid order
   * (rowid-order.ts), positions being [rowid, ...key] and bounds their rowid.
   */
  async read(t: TableDef, after: Key | null, limit: number, maxBytes: number, upTo: Key | null = null, byRowid = false): Promise<SqliteBatch> {
    const plan = this.plan(t);
    const parts: Buffer[] = [];
    let bytes = 0;
    let rows = 0;
    let last = after;
    let exhausted = false;
    // a position's parameters: the key, or for rowid order its rowid alone
    const bound = (k: Key | null) => (k === null ? [] : byRowid ? [k[0]] : k);
    while (rows < limit && bytes < maxBytes) {
      if (rows) await new Promise((resolve) => setImmediate(resolve));
      const want = Math.min(plan.rows, limit - rows);
      const r = this.statement(t, plan, last !== null, upTo !== null, byRowid).get(...bound(last), ...bound(upTo), want) as unknown[];
      const n = Number(r[1]);
      if (!n) {
        exhausted = true;
        break;
      }
      const text = Buffer.isBuffer(r[0]) ? r[0] : Buffer.from(r[0] as string);
      parts.push(text);
      bytes += text.length;
      rows += n;
      last = r.slice(2) as Key;
      // rows written since the table was sized may be larger: the next chunks shrink to fit
      if (text.length > 2 * CHUNK_BYTES) plan.rows = Math.max(1, Math.floor((plan.rows * CHUNK_BYTES) / text.length));
      if (n < want) {
        exhausted = true;
        break;
      }
    }
    return { text: parts, rows, last: rows ? last : null, full: !exhausted && (rows >= limit || bytes >= maxBytes) };
  }

  private plan(t: TableDef): TablePlan {
    let p = this.plans.get(t.name);
    if (!p) {
      p = { statements: new Map(), rows: this.chunkRows(t) };
      this.plans.set(t.name, p);
    }
    return p;
  }

  private statement(t: TableDef, p: TablePlan, after: boolean, bounded: boolean, byRowid: boolean): Database.Statement {
    const id = `${after}:${bounded}:${byRowid}`;
    let s = p.statements.get(id);
    if (!s && byRowid) {
      const r = rowidName(t)!;
      const where = [after ? `${r} > ?` : '', bounded ? `${r} <= ?` : ''].filter(Boolean).join(' AND ');
      const keys = t.key.map((k, i) => `${qi(k)} AS _k${i}`).join(', ');
      // the last row's key comes along as bare columns of the max() row
      s = this.db.prepare(`SELECT ${chunkText('_l', this.utf8)}, count(*), max(_r), ${t.key.map((_, i) => `_k${i}`).join(', ')}
        FROM (SELECT ${sqliteCopyLine(copiedColumns(t))} AS _l, ${r} AS _r, ${keys} FROM ${qi(t.name)} ${where ? `WHERE ${where}` : ''} ORDER BY ${r} LIMIT ?)`).raw(true);
      p.statements.set(id, s);
    }
    if (!s) {
      const line = sqliteCopyLine(copiedColumns(t));
      const keys = t.key.map(qi).join(', ');
      const marks = `(${t.key.map(() => '?').join(', ')})`;
      const where = [after ? `(${keys}) > ${marks}` : '', bounded ? `(${keys}) <= ${marks}` : ''].filter(Boolean).join(' AND ');
      const from = `FROM ${qi(t.name)} ${where ? `WHERE ${where}` : ''} ORDER BY ${keys} LIMIT ?`;
      // The chunk's last key: max() of a single key; for a composite key, the bare key columns of the
      // row with the highest row number (SQLite takes bare columns from the max() row). The LIMIT sits
      // inside, so the window numbers one chunk, never the rest of the table.
      s = this.db.prepare(t.key.length === 1
        ? `SELECT ${chunkText('l', this.utf8)}, count(*), max(${keys}) FROM (SELECT ${line} AS l, ${keys} ${from})`
        : `SELECT ${chunkText('l', this.utf8)}, max(rn), ${keys} FROM (SELECT l, ${keys}, row_number() OVER (ORDER BY ${keys}) AS rn FROM (SELECT ${line} AS l, ${keys} ${from}))`).raw(true);
      p.statements.set(id, s);
    }
    return s;
  }

  /**
   * Rows per chunk such that a chunk of the table's largest rows stays near
   * CHUNK_BYTES: dbstat knows the largest record without reading a value
   * (a BLOB doubles as hex, a number grows to at most 24 characters).
   */
  private chunkRows(t: TableDef): number {
    const { maxPayload } = this.stats?.get(t.name) ?? sqliteTableStats(this.db, t);
    if (maxPayload === null) return BLIND_CHUNK_ROWS;
    const widest = 2 * maxPayload + 24 * copiedColumns(t).length;
    return Math.max(1, Math.min(CHUNK_ROWS, Math.floor(CHUNK_BYTES / widest)));
  }
}
