// One client session on the SQLite file: the PostgreSQL protocol state machine
// (simple and extended query, statements and portals, transaction status).
//
// Transactions (see engine.ts for locking):
// - mode 'implicit' covers one request: a simple Query (all its statements), or
//   the extended-protocol messages up to Sync. Its SQLite transaction opens at
//   the first write (BEGIN IMMEDIATE) and commits at the end of the request;
//   an error rolls it back, so nothing is left half-written.
// - mode 'explicit' is BEGIN … COMMIT. SQLite's transaction opens lazily at the
//   first statement (BEGIN DEFERRED for a read, BEGIN IMMEDIATE for a write).
//   An error marks it failed ('E'): everything but ROLLBACK [TO SAVEPOINT] and
//   COMMIT (which then rolls back) is refused with 25P02, as in PostgreSQL.
import type Database from 'better-sqlite3';
import { BodyReader, FrameError, MessageAssembler, type Message } from '../framing.ts';
import { backendKeyData, fatal, parameterStatus, readyForQuery } from '../messages.ts';
import { checkSettable, settingName, type SessionSettings } from './catalog.ts';
import { retryBusy, type FileEngine } from './engine.ts';
import { CaptureFloor, DRAIN_QUERY } from './capture-drain.ts';
import { PgCatalog } from './pg-catalog-views.ts';
import { registerCatalogFunctions } from './catalog-functions.ts';
import { columnChecker, keyColumn, registerChecks, type Checker } from './checks.ts';
import { withConstraintFields } from './constraint-errors.ts';
import { textInput } from './text-input.ts';
import { fromSqlite, inFailedTransaction, PgError, TWO_PHASE, unsupported } from './errors.ts';
import { translate, type CopyRun, type DecimalBound, type SleepStatement, type SqlStatement, type Statement, type WriteTargets } from './translate.ts';
import { noSuchCursor, type DeclareStatement, type FetchStatement } from './cursor-statements.ts';
import { CopyIn, copyOutMessages, STATEMENT_SAVEPOINT } from './copy-session.ts';
import type { CopyRow } from './copy-format.ts';
import { addKey } from './table-rebuild.ts';
import { ungroupedColumn } from './grouping.ts';
import { inlineValues, SQLITE_MAX_VARIABLES } from './inline-values.ts';
import { withDateStyle, zoneNamed, type Zone } from './time-zone.ts';
import { datePart, dateTrunc } from './date-fields.ts';
import { SCALAR_OIDS, type ColumnHint } from './hints.ts';
import { DECIMAL, asBool, assignable, boundable, castToText, decodeBinaryParam, decodeTextParam, castTime, decimalBound, keepsWhole, keptWhole, encodeBinary, encodeText, instantText, localNowText, numericTypmod, OID, oidOfDeclared, oidOfValues, STRING_TYPES, typeDisplayName, typeSize, type SqlValue } from './types.ts';
import {
  BIND_COMPLETE, CLOSE_COMPLETE, EMPTY_QUERY, NO_DATA, PARSE_COMPLETE, PORTAL_SUSPENDED,
  commandComplete, copyResponse, dataRow, errorMessage, noticeMessage, parameterDescription, rowDescription, type Field,
} from './wire.ts';

interface Prepared {
  /** null: the empty query. */
  st: Statement | null;
  sqlite: Database.Statement | null;
  /** Parameter types: as the client gave them, else from casts and columns; 0 unknown. */
  paramOids: number[];
  /** Row description sent for a statement Describe: Execute must then encode to match it. */
  described?: Field[];
  /** Parameters of a declared non-string type written into a string column: bound as their text (checkDeclaredWrites). */
  asText?: { param: number; oid: number }[];
}

interface Result {
  fields: Field[] | null;
  rows: SqlValue[][];
  tag: string;
}

interface Portal {
  prep: Prepared;
  params: SqlValue[];
  formats: number[];
  result: Result | null;
  sent: number;
  /** Made by DECLARE … CURSOR: closed by CLOSE, the transaction's end, or a ROLLBACK TO a savepoint made before it. */
  cursor?: boolean;
  /** The block's savepoints when the cursor was declared. */
  depth?: number;
}

const MAX_STATEMENT_CACHE = 500;
const FLUSH_AT = 256 * 1024;
/** readRows: 512 MB of values is about 1.7 GB of the proxy's memory held. */
export const RESULT_LIMIT = 512 << 20;

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`;
const NO_CHECKS: (Checker | null)[] = [];

/** A table's column checks (checks.ts), by lower-case name and by position. */
interface TableChecks {
  byName: Map<string, Checker | null>;
  byPos: (Checker | null)[];
}

/** PRAGMA table_info's rows. */
type TableColumns = { name: string; type: string; pk: number }[];

/** A table's column by name (as SQLite compares names: case-insensitively) or by position (an INSERT without a column list). */
const columnOf = (cols: TableColumns, column: string | number): TableColumns[number] | undefined =>
  typeof column === 'number' ? cols[column] : cols.find((c) => c.name.toLowerCase() === column.toLowerCase());

export class SessionEngine {
  private assembler: MessageAssembler;
  private out: Buffer[] = [];
  private outBytes = 0;
  /** Bytes handed to the stream since the engine last let the event loop turn (roomForMore). */
  private sentSinceYield = 0;
  private closed = false;
  private skipping = false;
  /** Ends the pg_sleep under way with a cancel (sleep()). */
  private cancelWait: (() => void) | null = null;
  private mode: 'none' | 'implicit' | 'explicit' = 'none';
  /** This transaction block's READ ONLY (BEGIN READ ONLY, SET TRANSACTION READ ONLY). */
  private txnReadOnly = false;
  /**
   * Settings as the transaction found them, as PostgreSQL's: SET in a
   * transaction that rolls back is undone, SET LOCAL lasts to its end, and
   * ROLLBACK TO SAVEPOINT undoes what came after the savepoint. Taken at the
   * transaction's first SET (most change none).
   */
  private txnSettings: Map<string, string> | null = null;
  /** When this transaction started (performance.now()), what now() gives in all its statements; its text once asked for. */
  private txnStart = performance.now();
  private txnNowText: string | null = null;
  private localSettings = new Set<string>();
  /**
   * The block's savepoints, oldest first. `opened`: made in SQLite. A savepoint made before the block's
   * SQLite transaction is kept here only, and made when that transaction opens (openSavepoints): opening it
   * for a SAVEPOINT would start its snapshot there (BEGIN DEFERRED, then the next read), and a write after
   * another session's commit would fail with 40001, where PostgreSQL's SAVEPOINT takes no snapshot
   * (pgjdbc's autosave, pgbench's SAVEPOINT before an UPDATE).
   */
  private savepointSettings: { name: string; saved: Map<string, string>; locals: Set<string>; opened: boolean }[] = [];
  private failed = false;
  private statements = new Map<string, Prepared>();
  private portals = new Map<string, Portal>();
  private cache = new Map<string, Database.Statement>();
  private readonly capture: CaptureFloor;
  /** pg_class, pg_attribute … for psql's describe commands: filled on the first catalog query after a schema change. */
  private readonly pgCatalog: PgCatalog;
  /** The running statement's checks, by WriteTargets column: what cutover_put applies. */
  private putChecks = NO_CHECKS;
  /** Column checks by table, valid for one schema version (read when the write lock is taken). */
  private tableChecks = new Map<string, TableChecks>();
  private schemaVersion: unknown = null;
  private readonly schemaStmt: Database.Statement;
  /** Grouped SELECTs found right, with the schema version they were checked in. */
  private groupingChecked = new WeakMap<SqlStatement, unknown>();
  /** COPY FROM STDIN under way: messages go to copyMessage until its end. */
  private copyIn: CopyIn<Prepared> | null = null;

  constructor(
    private readonly db: Database.Database,
    private readonly engine: FileEngine,
    private readonly settings: SessionSettings,
    private readonly key: { pid: number; secret: number },
    private readonly sink: (b: Buffer | null) => void,
    maxMessageSize: number,
    /** While the proxy is not taking the engine's output (its client is not reading): when it takes it again; else null. */
    private readonly drained: () => Promise<void> | null = () => null,
    /** The largest read result (bytes of its values) the engine holds: readRows. */
    private readonly resultLimit = RESULT_LIMIT,
  ) {
    this.assembler = new MessageAssembler(maxMessageSize);
    this.capture = new CaptureFloor(db);
    this.pgCatalog = new PgCatalog(db, settings);
    registerCatalogFunctions(db, this.pgCatalog, () => settings.user);
    this.schemaStmt = db.prepare('PRAGMA schema_version').pluck();
    registerChecks(
      db,
      (v, column) => {
        const check = this.putChecks[column];
        return check ? check(v) : v;
      },
      () => this.zone(),
    );
    settings.beforeChange = (key, local) => {
      if (this.mode === 'none') return; // outside a transaction: for good
      this.txnSettings ??= this.settings.snapshot();
      if (local) this.localSettings.add(key);
    };
    // now() and CURRENT_TIMESTAMP: this transaction's start (translate.ts, transactionNow)
    db.function('cutover_now', () => (this.txnNowText ??= instantText((performance.timeOrigin + this.txnStart) * 1000)));
    // LOCALTIMESTAMP and CURRENT_DATE: the same moment on the session's wall clock (time-zone.ts)
    db.function('cutover_localnow', () => localNowText((performance.timeOrigin + this.txnStart) * 1000, this.zone()));
    db.function('cutover_time_cast', (v: SqlValue, declared: SqlValue, to: SqlValue) => castTime(v, declared === null ? undefined : oidOfDeclared(String(declared)), Number(to), this.zone()));
    const declaredOid = (declared: SqlValue) => (declared === null ? undefined : oidOfDeclared(String(declared)));
    db.function('cutover_date_trunc', (unit: SqlValue, v: SqlValue, declared: SqlValue) => dateTrunc(String(unit), v, declaredOid(declared), this.zone()));
    db.function('cutover_date_part', (unit: SqlValue, v: SqlValue, declared: SqlValue, numeric: SqlValue) => datePart(String(unit), v, declaredOid(declared), this.zone(), Number(numeric) !== 0));
    db.function('cutover_today', () => localNowText((performance.timeOrigin + this.txnStart) * 1000, this.zone()).slice(0, 10));
  }

  private zoneOf: { name: string; style: string | undefined; zone: Zone } | null = null;

  /** The session's TimeZone (checked when set: catalog.ts). */
  private zone(): Zone {
    const name = this.settings.get('timezone') ?? 'UTC';
    const style = this.settings.get('datestyle'); // its field order, for date input (date-input.ts)
    if (this.zoneOf?.name !== name || this.zoneOf.style !== style) this.zoneOf = { name, style, zone: withDateStyle(zoneNamed(name), style) };
    return this.zoneOf.zone;
  }

  /**
   * ParameterStatus … ReadyForQuery: the tail of start-up the engine speaks itself.
   * AuthenticationOk is not among them: the proxy authenticated the client and sent it already
   * (a second one makes libpq drop the connection).
   */
  start(): void {
    for (const [k, v] of this.settings.reportedAll()) this.send(parameterStatus(k, v));
    this.send(backendKeyData(this.key.pid, this.key.secret));
    this.send(readyForQuery('I'));
    this.flush();
  }

  /** Feeds client bytes; resolves when every complete message in them has been answered. */
  async push(chunk: Buffer): Promise<void> {
    // ended (a bad message): what the client still sends is dropped unread
    if (this.closed) return;
    const messages: Message[] = [];
    try {
      this.assembler.push(chunk, (m) => messages.push(m));
    } catch (e) {
      return this.die((e as FrameError).code ?? '08P01', (e as Error).message);
    }
    for (const m of messages) {
      if (this.closed) return;
      await this.handle(m);
      // the next answer waits for the last to be taken: a client pipelining queries it never read filled memory
      await this.roomForMore();
    }
    this.flush();
  }

  /** Answers past FLUSH_AT go out; while the client has not taken what went before, nothing more is made. */
  private async roomForMore(): Promise<void> {
    if (this.outBytes > FLUSH_AT) this.flush();
    if (this.sentSinceYield > FLUSH_AT) {
      // the relay learns that its client is not reading only when its own writes run, on a later tick:
      // without a turn of the event loop here, one Query's statements made all their answers first
      this.sentSinceYield = 0;
      await new Promise<void>((r) => setImmediate(r));
    }
    const wait = this.drained();
    if (wait) {
      this.flush();
      await wait;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelWait?.();
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } catch {
      // the connection is closing anyway
    }
    this.engine.lock.abandon(this);
    this.db.close();
  }

  // ---------- messages ----------

  private async handle(m: Message): Promise<void> {
    const t = m.type;
    // after Terminate nothing more is read, as PostgreSQL reads nothing more
    if (this.closed) return;
    if (this.copyIn) return this.copyMessage(m);
    if (this.skipping && t !== 0x53 /* S */ && t !== 0x58 /* X */) return;
    const r = new BodyReader(m.bytes);
    try {
      switch (t) {
        case 0x51: // Q
          return await this.simpleQuery(r.cstring());
        case 0x50: // P
          return this.parse(r);
        case 0x42: // B
          return this.bind(r);
        case 0x44: // D
          return await this.describe(r);
        case 0x45: // E
          return await this.execute(r);
        case 0x53: // S
          return this.sync();
        case 0x48: // H
          return this.flush();
        case 0x43: // C
          return this.closeMessage(r);
        case 0x58: // X
          this.flush();
          this.close();
          this.sink(null);
          return;
        case 0x64: // d
        case 0x63: // c
        case 0x66: // f
          return; // CopyData/CopyDone/CopyFail outside COPY: ignored, as PostgreSQL does
        case 0x46: // F
          this.send(errorMessage('0A000', 'the function call protocol message is not supported by the SQLite source'));
          this.send(readyForQuery(this.status()));
          return;
        default:
          return this.die('08P01', `invalid frontend message type ${t}`);
      }
    } catch (e) {
      if (e instanceof FrameError) {
        // the message arrived whole; its body is what is wrong: an ERROR, as PostgreSQL reports it, and the
        // session goes on (a simple Query's ends with ReadyForQuery, an extended message's skips to the Sync)
        if (t === 0x51) {
          this.fail(new PgError(e.code, e.message));
          this.send(readyForQuery(this.status()));
          return;
        }
        e = new PgError(e.code, e.message);
      }
      this.fail(e);
      this.skipping = true;
    }
  }

  private status(): 'I' | 'T' | 'E' {
    return this.mode === 'explicit' ? (this.failed ? 'E' : 'T') : 'I';
  }

  private async simpleQuery(text: string): Promise<void> {
    if (text === DRAIN_QUERY) return this.drainChanges();
    const statements = translate(text);
    if (!statements.length) this.send(EMPTY_QUERY);
    if (this.mode === 'none') this.enterImplicit();
    await this.runStatements(statements);
  }

  /** A simple query's statements, to its ReadyForQuery; a COPY FROM STDIN stops it until its data is in (copyMessage). */
  private async runStatements(statements: Statement[]): Promise<void> {
    for (let i = 0; i < statements.length; i++) {
      const st = statements[i]!;
      try {
        if (st.kind === 'copy' && st.from) {
          await this.startCopyIn(st, statements.slice(i + 1));
          return;
        }
        await this.runSimple(st);
      } catch (e) {
        this.fail(e);
        break;
      }
      // one Query of many SELECTs: each result waits for room as a message's does (their answers grew the
      // proxy's memory without end for a client that did not read them)
      await this.roomForMore();
      if (this.closed) return;
    }
    this.endRequest();
    this.send(readyForQuery(this.status()));
    this.flush();
  }

  /** The proxy's drain before COMMIT (capture-drain.ts): this write transaction's change rows. */
  private drainChanges(): void {
    if (this.mode === 'explicit' && this.failed) {
      this.send(this.errorFor(inFailedTransaction()));
    } else {
      const rows = this.engine.lock.held(this) && this.db.inTransaction ? this.capture.drain() : [];
      this.send(rowDescription(['seq', 'tbl', 'op', 'pk', 'row'].map((name) => ({ name, oid: OID.text, size: -1, format: 0 }))));
      for (const r of rows) this.send(dataRow(r.map((v) => (v === null ? null : Buffer.from(v, 'utf8')))));
      this.send(commandComplete(`DELETE ${rows.length}`));
    }
    this.send(readyForQuery(this.status()));
    this.flush();
  }

  private async runSimple(st: Statement): Promise<void> {
    if (st.kind === 'copy') return this.copyOut(st);
    const res = await this.simpleResult(st);
    if (res.fields) this.send(rowDescription(res.fields));
    for (const row of res.rows) this.send(this.encodeRow(row, res.fields!));
    this.send(commandComplete(res.tag));
    this.reportSettings();
  }

  /** A statement of a simple query run: no parameters to bind. */
  private async simpleResult(st: Statement): Promise<Result> {
    switch (st.kind) {
      case 'sql':
        if (st.params > 0) throw new PgError('42P02', 'there is no parameter $1');
        this.refuseIfFailed(st);
        return this.runSql(st, this.prepareSqlite(st), [], null, []);
      case 'sleep':
        if (st.param) throw new PgError('42P02', `there is no parameter $${st.param}`);
        return this.sleep(st, []);
      case 'declare':
        return this.declareCursor(st, []);
      case 'seq':
      case 'maintenance':
      case 'add_key':
        return this.runChange(st);
      case 'copy':
        throw new PgError('XX000', 'COPY reached the wrong path');
      default:
        return this.utility(st);
    }
  }

  private parse(r: BodyReader): void {
    const name = r.cstring();
    const text = r.cstring();
    const n = r.uint16();
    const given: number[] = [];
    for (let i = 0; i < n; i++) given.push(r.int32() >>> 0);
    r.end();
    if (name && this.statements.has(name)) throw new PgError('42P05', `prepared statement "${name}" already exists`);
    this.statements.set(name, this.prepared(text, given));
    this.send(PARSE_COMPLETE);
  }

  /** A statement text made ready to bind: translated, prepared in SQLite, its parameters typed. */
  private prepared(text: string, given: number[]): Prepared {
    const statements = translate(text);
    if (statements.length > 1) throw new PgError('42601', 'cannot insert multiple commands into a prepared statement');
    const st = statements[0] ?? null;
    if (st) this.refuseIfFailed(st);
    if (st?.kind === 'error') throw st.error;
    let sqlite: Database.Statement | null = null;
    let paramOids = given;
    // a cursor's query takes the DECLARE's parameters
    const query = st?.kind === 'sql' ? st : st?.kind === 'declare' ? st.query : null;
    if (query) {
      if (st?.kind === 'sql') sqlite = this.prepareSqlite(query);
      paramOids = [];
      for (let i = 1; i <= Math.max(query.params, given.length); i++) {
        paramOids.push(given[i - 1] || query.paramTypes.get(i) || this.columnParamOid(query, i) || 0);
      }
    }
    // pg_sleep($1): seconds as float8, unless the client said otherwise
    if (st?.kind === 'sleep' && st.param) paramOids = [given[0] || OID.float8];
    const asText = st?.kind === 'sql' && st.write ? this.checkDeclaredWrites(st.write, given) : [];
    return { st, sqlite, paramOids, ...(asText.length ? { asText } : {}) };
  }

  private bind(r: BodyReader): void {
    const portalName = r.cstring();
    const stmtName = r.cstring();
    const prep = this.statements.get(stmtName);
    if (!prep) throw new PgError('26000', `prepared statement "${stmtName}" does not exist`);
    const nf = r.uint16();
    const formats: number[] = [];
    for (let i = 0; i < nf; i++) formats.push(r.int16());
    const np = r.uint16();
    if (np !== prep.paramOids.length) {
      throw new PgError('08P01', `bind message supplies ${np} parameters, but prepared statement "${stmtName}" requires ${prep.paramOids.length}`);
    }
    const params: SqlValue[] = [];
    for (let i = 0; i < np; i++) {
      const len = r.int32();
      const fmt = nf === 0 ? 0 : nf === 1 ? formats[0]! : formats[i]!;
      if (len === -1) {
        params.push(null);
        continue;
      }
      const raw = r.bytes(len);
      const oid = prep.paramOids[i]!;
      // a numeric that only bounds comparisons is compared exactly (literalValue): its digits are kept, whatever their number
      const text = fmt === 1 ? null : textInput(raw);
      const bounding = text !== null && oid === OID.numeric && prep.st?.kind === 'sql' && prep.st.boundParams?.includes(i + 1) && DECIMAL.test(text);
      params.push(text === null ? decodeBinaryParam(raw, oid) : bounding ? text.trim() : decodeTextParam(text, oid, this.zone()));
    }
    for (const t of prep.asText ?? []) params[t.param - 1] = castToText(params[t.param - 1] ?? null, t.oid);
    const nr = r.uint16();
    const resultFormats: number[] = [];
    for (let i = 0; i < nr; i++) resultFormats.push(r.int16());
    r.end();
    if (portalName && this.portals.has(portalName)) throw new PgError('42P03', `cursor "${portalName}" already exists`);
    // as PostgreSQL: in a failed transaction only what ends it (or goes back to a savepoint) may be bound
    if (this.mode === 'explicit' && this.failed && !endsFailure(prep.st)) throw inFailedTransaction();
    this.portals.set(portalName, { prep, params, formats: resultFormats, result: null, sent: 0 });
    this.send(BIND_COMPLETE);
  }

  private async describe(r: BodyReader): Promise<void> {
    const code = r.bytes(1)[0]!;
    const kind = String.fromCharCode(code);
    const name = r.cstring();
    r.end();
    if (kind === 'S') {
      const prep = this.statements.get(name);
      if (!prep) throw new PgError('26000', `prepared statement "${name}" does not exist`);
      this.send(parameterDescription(prep.paramOids.map((o) => o || OID.text)));
      const fields = this.describeStatement(prep);
      prep.described = fields ?? undefined;
      this.send(fields ? rowDescription(fields) : NO_DATA);
      return;
    }
    if (kind !== 'P') throw new FrameError(`invalid DESCRIBE message subtype ${code}`);
    const portal = this.portals.get(name);
    if (!portal) throw new PgError('34000', `portal "${name}" does not exist`);
    const st = portal.prep.st;
    if (!st || (st.kind === 'sql' && !portal.prep.sqlite!.reader) || NO_RESULT.has(st.kind)) {
      this.send(NO_DATA);
      return;
    }
    if (st.kind === 'sleep') {
      // described without the wait: it runs at Execute
      this.send(rowDescription(sleepFields(st, portal.formats)));
      return;
    }
    // a reader runs now: its result column types may depend on its values
    portal.result ??= await this.runPortal(portal);
    this.send(portal.result.fields ? rowDescription(portal.result.fields) : NO_DATA);
  }

  private async execute(r: BodyReader): Promise<void> {
    const name = r.cstring();
    const maxRows = r.int32();
    r.end();
    const portal = this.portals.get(name);
    if (!portal) throw new PgError('34000', `portal "${name}" does not exist`);
    if (!portal.prep.st) {
      this.send(EMPTY_QUERY);
      return;
    }
    const st = portal.prep.st;
    if (st.kind === 'copy') {
      // the client's Sync (and any later message) answers after the copy: see copyMessage
      if (st.from) return this.startCopyIn(st, null);
      return this.copyOut(st);
    }
    portal.result ??= await this.runPortal(portal);
    const res = portal.result;
    const start = portal.sent;
    const end = maxRows > 0 ? Math.min(res.rows.length, portal.sent + maxRows) : res.rows.length;
    for (; portal.sent < end; portal.sent++) this.send(this.encodeRow(res.rows[portal.sent]!, res.fields!));
    // As PostgreSQL: a fetch that filled its row limit suspends the portal even when no row is left (the next
    // Execute completes it, with no rows), and the completion counts the rows of this fetch. A client that
    // runs a callback per batch (postgres.js's cursor) takes a completion as "no callback is waited for".
    if (maxRows > 0 && end - start === maxRows) this.send(PORTAL_SUSPENDED);
    else this.send(commandComplete(res.fields && start > 0 ? res.tag.replace(/\d+$/, String(end - start)) : res.tag));
    this.reportSettings();
  }

  private sync(): void {
    this.skipping = false;
    this.endRequest();
    this.portals.delete('');
    this.send(readyForQuery(this.status()));
    this.flush();
  }

  private closeMessage(r: BodyReader): void {
    const code = r.bytes(1)[0]!;
    const kind = String.fromCharCode(code);
    const name = r.cstring();
    r.end();
    if (kind === 'S') this.statements.delete(name);
    else if (kind === 'P') this.portals.delete(name);
    else throw new FrameError(`invalid CLOSE message subtype ${code}`);
    this.send(CLOSE_COMPLETE);
  }

  // ---------- execution ----------

  private prepareSqlite(st: SqlStatement): Database.Statement {
    if (st.catalog) this.pgCatalog.ensure();
    this.checkGrouping(st);
    let stmt = this.cache.get(st.sql);
    if (stmt) return stmt;
    try {
      // past SQLite's limit the values are written into the text at each run (runSql): this one only describes
      stmt = this.db.prepare(bindsTooMany(st) ? inlineValues(st.sql, () => null) : st.sql);
    } catch (e) {
      throw sqliteError(e, st);
    }
    if (stmt.reader) stmt.raw(true);
    if (this.cache.size >= MAX_STATEMENT_CACHE) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(st.sql, stmt);
    return stmt;
  }

  /** A statement with its values written in (inline-values.ts): prepared for one run, never cached. */
  private prepareInlined(text: string): Database.Statement {
    let stmt: Database.Statement;
    try {
      stmt = this.db.prepare(text);
    } catch (e) {
      throw fromSqlite(e);
    }
    if (stmt.reader) stmt.raw(true);
    return stmt;
  }

  /** 42803 for a column a grouped SELECT reads ungrouped, as PostgreSQL's analysis refuses it (grouping.ts). */
  private checkGrouping(st: SqlStatement): void {
    if (!st.grouping.length) return;
    // a statement found right stays right until the schema changes (translations are shared by text)
    const version = this.schemaStmt.get();
    if (this.groupingChecked.get(st) === version) return;
    const columns = new Map<string, TableColumns>();
    for (const g of st.grouping) {
      const bad = ungroupedColumn(g, (table) => this.tableColumns(table, columns));
      if (bad) throw new PgError('42803', `column "${bad}" must appear in the GROUP BY clause or be used in an aggregate function`);
    }
    this.groupingChecked.set(st, version);
  }

  /**
   * A parameter the client declared a type for (postgres.js a boolean or a
   * Date, JDBC's setString a varchar) written into a column PostgreSQL cannot
   * assign that type to: refused at Parse, as PostgreSQL refuses it (42804),
   * instead of SQLite storing false as 0 in an integer column. An application
   * that works here then works on the new database after the promote. One
   * written into a string column is stored as PostgreSQL's cast writes it
   * (true, not 1): the parameters returned are bound so.
   */
  private checkDeclaredWrites(w: WriteTargets, given: number[]): { param: number; oid: number }[] {
    let cols: TableColumns | undefined;
    const asText: { param: number; oid: number }[] = [];
    for (const p of w.params) {
      const from = given[p.param - 1] ?? 0;
      if (!SCALAR_OIDS.has(from)) continue;
      cols ??= this.tableInfo(w.table);
      const col = columnOf(cols, w.columns[p.column]!);
      const to = col ? oidOfDeclared(col.type) : undefined;
      if (to !== undefined && STRING_TYPES.has(to) && !STRING_TYPES.has(from)) asText.push({ param: p.param, oid: from });
      if (to === undefined || assignable(from, to)) continue;
      throw new PgError('42804', `column "${col!.name}" is of type ${typeDisplayName(to)} but expression is of type ${typeDisplayName(from)}`, undefined, 'You will need to rewrite or cast the expression.');
    }
    return asText;
  }

  /** The declared type of the column a parameter is compared with or assigned to. */
  private columnParamOid(st: SqlStatement, param: number, columns?: Map<string, TableColumns>): number | undefined {
    for (const pc of st.paramColumns) {
      if (pc.param !== param) continue;
      const declared = this.declaredType(st, pc.qualifier, pc.column, columns);
      if (declared !== undefined) return oidOfDeclared(declared);
    }
    return undefined;
  }

  private tableInfo(table: string): TableColumns {
    return this.db.pragma(`table_info(${quoteIdent(table)})`) as TableColumns;
  }

  /** tableInfo, read once per `memo` (one statement's execution or check). */
  private tableColumns(table: string, memo?: Map<string, TableColumns>): TableColumns {
    let cols = memo?.get(table);
    if (!cols) {
      cols = this.tableInfo(table);
      memo?.set(table, cols);
    }
    return cols;
  }

  /** The declared type of a column the statement names (by name, or position in an INSERT's table); undefined when no table named has it. */
  private declaredType(st: SqlStatement, qualifier: string | undefined, column: string | number, columns?: Map<string, TableColumns>): string | undefined {
    const candidates = qualifier ? [st.tables.find((t) => t.alias === qualifier || t.name === qualifier)?.name ?? qualifier] : st.tables.map((t) => t.name);
    for (const table of candidates) {
      const col = columnOf(this.tableColumns(table, columns), column);
      if (col) return col.type;
    }
    return undefined;
  }

  /** PostgreSQL's result type for min/max/sum/avg of a table column (hints.ts, ColumnHint); scale: a numeric sum's display scale. */
  private aggregateType(st: SqlStatement, h: ColumnHint, columns: Map<string, TableColumns>): { oid: number; typmod?: number; scale?: number } | undefined {
    const declared = this.declaredType(st, h.qualifier, h.column, columns);
    const oid = oidOfDeclared(declared);
    if (oid === undefined) return undefined;
    const typmod = oid === OID.numeric ? numericTypmod(declared) : undefined;
    const integer = oid === OID.int2 || oid === OID.int4 || oid === OID.int8;
    const float = oid === OID.float4 || oid === OID.float8;
    switch (h.fn) {
      case 'min':
      case 'max':
        return { oid, ...(typmod !== undefined ? { typmod } : {}) };
      case 'extreme':
        // PostgreSQL's GREATEST/LEAST keep the values' type, not a numeric's declared scale
        return { oid };
      case 'value':
        // the column's values print at its scale (price numeric(10,2): 1.50), as a plain read of it does
        return { oid, ...(typmod !== undefined ? { scale: (typmod - 4) & 0xffff } : {}) };
      case 'sum':
        // a numeric sum prints the scale of what it adds (12.50 + 0.50 is 13.00), its typmod -1
        // sum(int8) is numeric, as on PostgreSQL (an INTEGER column is int8 here and bigint on the new database)
        if (oid === OID.int8) return { oid: OID.numeric };
        return integer ? { oid: OID.int8 } : float ? { oid: OID.float8 } : oid === OID.numeric ? { oid, ...(typmod !== undefined ? { scale: (typmod - 4) & 0xffff } : {}) } : undefined;
      case 'avg':
        return integer || oid === OID.numeric ? { oid: OID.numeric } : float ? { oid: OID.float8 } : undefined;
      case 'date_trunc':
        return { oid: oid === OID.timestamp ? OID.timestamp : OID.timestamptz };
    }
  }

  private describeStatement(prep: Prepared): Field[] | null {
    const st = prep.st;
    if (!st) return null;
    if (st.kind === 'show') return [{ name: settingName(st.name), oid: OID.text, size: -1, format: 0 }];
    if (st.kind === 'sleep') return sleepFields(st, []);
    if (st.kind === 'fetch') {
      const cursor = this.portals.get(st.name);
      return cursor?.cursor && !st.move ? cursor.result!.fields : null;
    }
    if (st.kind !== 'sql' || !prep.sqlite!.reader) return null;
    return this.fields(st, prep.sqlite!, null, [], prep.paramOids);
  }

  private fields(st: SqlStatement, stmt: Database.Statement, rows: SqlValue[][] | null, formats: number[], paramOids: number[]): Field[] {
    const columns = new Map<string, TableColumns>(); // each table's read once for all the aggregates
    return stmt.columns().map((c, i) => {
      const format = formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : formats[i] ?? 0;
      const name = st.names[i] ?? c.name;
      const param = st.paramTargets[i];
      const declaredParam = param !== undefined && SCALAR_OIDS.has(paramOids[param - 1] ?? 0) ? paramOids[param - 1] : undefined;
      const hint = oidOfDeclared(c.type) ?? st.hints[i] ?? declaredParam;
      const aggregate = hint === undefined && st.columnHints[i] ? this.aggregateType(st, st.columnHints[i]!, columns) : undefined;
      if (aggregate) return { name, size: typeSize(aggregate.oid), format, ...aggregate };
      const oid = hint ?? (rows ? oidOfValues(rows.map((r) => r[i]!)) : OID.text);
      const typmod = oid === OID.numeric ? numericTypmod(c.type) : undefined;
      return { name, oid, size: typeSize(oid), format, ...(typmod !== undefined ? { typmod } : {}) };
    });
  }

  private async runPortal(portal: Portal): Promise<Result> {
    const st = portal.prep.st!;
    if (st.kind === 'sleep') return this.sleep(st, portal.params, portal.formats);
    if (st.kind === 'seq' || st.kind === 'maintenance' || st.kind === 'add_key') return this.runChange(st);
    if (st.kind === 'copy') throw new PgError('XX000', 'COPY reached the wrong path');
    if (st.kind === 'declare') return this.declareCursor(st, portal.params);
    if (st.kind !== 'sql') {
      const res = this.utility(st);
      if (res.fields) res.fields = res.fields.map((f, i) => ({ ...f, format: portal.formats.length === 1 ? portal.formats[0]! : portal.formats[i] ?? 0 }));
      return res;
    }
    const described = portal.prep.described?.map((f, i) => ({ ...f, format: portal.formats.length === 1 ? portal.formats[0]! : portal.formats[i] ?? 0 }));
    return this.runSql(st, portal.prep.sqlite!, portal.params, described ?? null, portal.formats, portal.prep.paramOids);
  }

  private async runSql(st: SqlStatement, stmt: Database.Statement, params: SqlValue[], described: Field[] | null, formats: number[], paramOids: number[] = []): Promise<Result> {
    if (this.mode === 'explicit' && this.failed) throw inFailedTransaction();
    const write = !stmt.readonly || st.locking;
    if (write && this.readOnlyNow()) throw new PgError('25006', `cannot execute ${st.locking && st.tag === 'SELECT' ? 'SELECT FOR UPDATE' : st.tag} in a read-only transaction`);
    const timeout = this.settings.lockTimeoutMs(this.engine.busyTimeoutMs);
    const deadline = Date.now() + timeout;
    // DDL may change what a column holds: its checks are read again after it
    if (st.tag !== 'SELECT' && !st.countsChanges) this.forgetSchema();
    await this.beginFor(write, timeout, deadline);
    // in the statement's own snapshot, so it describes the schema the statement sees
    if (st.catalog) this.pgCatalog.refresh();
    let named: Record<string, SqlValue> | null = null;
    if (st.params > 0 || st.literals.length || st.columnTypes.length) {
      named = {};
      for (let i = 0; i < st.params; i++) named[String(i + 1)] = params[i] ?? null;
      // each table's columns read once for all the constants (an IN list of many compares them with one column)
      const columns = new Map<string, TableColumns>();
      st.literals.forEach((l, i) => {
        const n = st.params + 1 + i;
        named![String(n)] = this.literalValue(st, n, l, columns, params);
      });
      st.columnTypes.forEach((c, i) => {
        named![String(st.params + st.literals.length + 1 + i)] = this.declaredType(st, c.qualifier, c.column, columns) ?? null;
      });
    }
    if (st.conflict) this.checkConflictRows(st, named);
    this.putChecks = st.write ? this.checkWrites(st.write, named) : NO_CHECKS;
    let args: unknown[] = named ? [named] : [];
    if (named && bindsTooMany(st)) {
      const values = named;
      stmt = this.prepareInlined(inlineValues(st.sql, (n) => values[String(n)]));
      args = [];
    }
    try {
      if (stmt.reader) {
        // a write statement that finds the lock taken by another process fails before it changes anything: retry
        const rows = write ? ((await retryBusy(() => stmt.all(...args), deadline, timeout)) as SqlValue[][]) : this.readRows(stmt, args);
        const fields = described ?? this.fields(st, stmt, rows, formats, paramOids);
        return { fields, rows, tag: this.tag(st, rows.length) };
      }
      const info = write ? await retryBusy(() => stmt.run(...args), deadline, timeout) : stmt.run(...args);
      return { fields: null, rows: [], tag: this.tag(st, info.changes) };
    } catch (e) {
      throw this.statementError(e, st);
    } finally {
      this.releaseIfDone();
    }
  }

  /** 21000 for an ON CONFLICT DO UPDATE whose rows propose one key twice, as PostgreSQL refuses it (SQLite would update the row twice). */
  private checkConflictRows(st: SqlStatement, named: Record<string, SqlValue> | null): void {
    const c = st.conflict!;
    const names = c.columns ?? (st.write ? this.tableInfo(st.write.table).map((x) => x.name) : []);
    const at = c.target.map((t) => names.findIndex((x) => x.toLowerCase() === t.toLowerCase()));
    if (at.some((i) => i < 0)) return;
    const seen = new Set<string>();
    rows: for (const row of c.rows) {
      const key: string[] = [];
      for (const i of at) {
        const cell = row[i];
        if (cell === undefined || cell === 'unknown' || cell === 'null') continue rows;
        // a number constant and a bound number compare by value (1 and '1' bound into an integer column are one key)
        const v = 'param' in cell ? named?.[String(cell.param)] ?? null : /^-?\d+$/.test(cell.value) ? BigInt(cell.value) : Number(cell.value);
        if (v === null) continue rows;
        key.push(typeof v === 'string' ? `s${v}` : Buffer.isBuffer(v) ? `b${v.toString('hex')}` : `n${String(v)}`);
      }
      const k = JSON.stringify(key);
      if (seen.has(k)) {
        throw new PgError('21000', 'ON CONFLICT DO UPDATE command cannot affect row a second time', undefined, 'Ensure that no rows proposed for insertion within the same command have duplicate constrained values.');
      }
      seen.add(k);
    }
  }

  /** A statement's SQLite error as PostgreSQL's, a constraint violation naming its constraint and table. */
  private statementError(e: unknown, st: SqlStatement): PgError {
    const pe = sqliteError(e, st);
    const { code, message } = e as { code?: string; message?: string };
    if (!code?.startsWith('SQLITE_CONSTRAINT') || !message) return pe;
    return withConstraintFields(this.db, pe, code, message, st.write?.table, st.tag === 'INSERT');
  }

  /**
   * A read's rows. The engine holds a result whole before it answers (its
   * types come from its values), about three times its size in memory: past
   * resultLimit bytes the read is refused (54000) rather than let one query
   * take the proxy, and every session in it, out of memory.
   */
  private readRows(stmt: Database.Statement, args: unknown[]): SqlValue[][] {
    const rows: SqlValue[][] = [];
    let bytes = 0;
    for (const row of stmt.iterate(...args) as IterableIterator<SqlValue[]>) {
      rows.push(row);
      for (const v of row) bytes += typeof v === 'string' || v instanceof Uint8Array ? v.length : 8;
      if (bytes > this.resultLimit) {
        throw new PgError('54000', `the result is larger than the SQLite source answers at once (${Math.round(this.resultLimit / 2 ** 20)} MB after ${rows.length} rows)`, undefined, 'read it in parts: LIMIT and OFFSET, or a range of keys');
      }
    }
    return rows;
  }

  /**
   * The checks of the columns an INSERT/UPDATE writes (checks.ts), applied
   * here to its parameters (a varchar(n) value may lose trailing blanks) and
   * integer constants; the statement's other values get them from cutover_put.
   */
  private checkWrites(w: WriteTargets, named: Record<string, SqlValue> | null): (Checker | null)[] {
    const key = w.table.toLowerCase();
    let t = this.tableChecks.get(key);
    if (!t) {
      const cols = this.tableInfo(w.table);
      const checks = cols.map((c) => (c.pk > 0 ? keyColumn(c.name, w.table, columnChecker(c.type)) : columnChecker(c.type)));
      t = { byName: new Map(cols.map((c, i) => [c.name.toLowerCase(), checks[i]!])), byPos: checks };
      this.tableChecks.set(key, t);
    }
    const checks = w.columns.map((c) => (typeof c === 'number' ? t.byPos[c] : t.byName.get(c.toLowerCase())) ?? null);
    if (!checks.some(Boolean)) return NO_CHECKS;
    for (const c of w.consts) checks[c.column]?.(c.value);
    if (named) {
      for (const p of w.params) {
        const check = checks[p.column];
        if (check) named[String(p.param)] = check(named[String(p.param)] ?? null);
      }
    }
    return checks;
  }

  private forgetSchema(): void {
    this.tableChecks.clear();
    this.schemaVersion = null;
  }

  /** A constant the translator made parameter n, converted as a bound value of its column's type is. */
  private literalValue(st: SqlStatement, n: number, l: SqlStatement['literals'][number], columns: Map<string, TableColumns>, params: SqlValue[]): SqlValue {
    // typed: compared with an aggregate or date_trunc of a column, whose type is that column's (hints.ts)
    const oid = l.oid ?? (l.typed ? this.aggregateType(st, l.typed, columns)?.oid : undefined) ?? this.columnParamOid(st, n, columns);
    if (l.param !== undefined) return paramBound(params[l.param - 1] ?? null, l.bound!, oid === OID.float8 || oid === OID.float4);
    if (l.bound) return decimalBound(l.text, l.bound, oid === OID.float8 || oid === OID.float4);
    if (!oid) return l.text;
    // compared with an aggregate, which has no column affinity: a number as a number (text sorts after every number in SQLite)
    if (l.typed && oid === OID.numeric && DECIMAL.test(l.text)) return Number(l.text);
    // compared with a time column, in the one spelling written values are stored in (types.ts, microsText)
    return decodeTextParam(l.text, oid, this.zone());
  }

  private tag(st: SqlStatement, n: number): string {
    if (st.tag === 'INSERT') return `INSERT 0 ${n}`;
    if (st.tag === 'SELECT' || st.countsChanges) return `${st.tag} ${n}`;
    return st.tag;
  }

  /** Opens the SQLite transaction this statement needs (see the top of the file). */
  private async beginFor(write: boolean, timeout: number, deadline: number): Promise<void> {
    if (this.mode === 'none') this.enterImplicit();
    if (write && !this.engine.lock.held(this)) {
      await this.engine.lock.acquire(this, timeout);
      try {
        if (!this.db.inTransaction) {
          await retryBusy(() => this.db.exec('BEGIN IMMEDIATE'), deadline, timeout);
          this.openSavepoints();
        }
        // change rows already there are not this transaction's (capture-drain.ts)
        this.capture.taken();
        // under the write lock no other connection changes the schema: the column checks hold until it is released
        const version = this.schemaStmt.get();
        if (version !== this.schemaVersion) {
          this.tableChecks.clear();
          this.schemaVersion = version;
        }
      } catch (e) {
        this.releaseIfDone();
        throw e;
      }
    } else if (!this.db.inTransaction && this.mode === 'explicit') {
      this.db.exec('BEGIN DEFERRED');
      this.openSavepoints();
    }
  }

  /** The block's savepoints made before its SQLite transaction opened, made in it now, in order. */
  private openSavepoints(): void {
    for (const sp of this.savepointSettings) {
      if (sp.opened) continue;
      this.db.exec(`SAVEPOINT ${quoteIdent(sp.name)}`);
      sp.opened = true;
    }
  }

  private releaseIfDone(): void {
    if (!this.db.inTransaction) this.engine.lock.release(this);
  }

  /** An implicit transaction starts: read-only or not by the default at its start, as PostgreSQL's. */
  private enterImplicit(): void {
    this.mode = 'implicit';
    this.txnStarts();
  }

  private txnStarts(): void {
    this.txnStart = performance.now();
    this.txnNowText = null;
    this.txnReadOnly = this.defaultReadOnly();
    this.txnSettings = null;
    this.localSettings.clear();
    this.savepointSettings = [];
  }

  /** The newest savepoint of that name (SQLite's and PostgreSQL's rule), -1 if none. */
  private savepointAt(name: string): number {
    for (let i = this.savepointSettings.length - 1; i >= 0; i--) if (this.savepointSettings[i]!.name.toLowerCase() === name.toLowerCase()) return i;
    return -1;
  }

  private defaultReadOnly(): boolean {
    return asBool(this.settings.get('default_transaction_read_only') ?? 'off') === true;
  }

  /** Whether a write now would be in a read-only transaction (BEGIN READ ONLY, SET TRANSACTION, default_transaction_read_only). */
  private readOnlyNow(): boolean {
    return this.mode === 'none' ? this.defaultReadOnly() : this.txnReadOnly;
  }

  /** Ends the SQLite transaction, if one is open; the write lock goes with it. */
  private endTxn(commit: boolean): void {
    let committed = commit;
    try {
      if (this.db.inTransaction) this.db.exec(commit ? 'COMMIT' : 'ROLLBACK');
    } catch (e) {
      committed = false;
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw fromSqlite(e);
    } finally {
      this.releaseIfDone();
      if (this.txnSettings) this.settings.restore(this.txnSettings, committed ? this.localSettings : undefined);
      this.mode = 'implicit';
      this.failed = false;
      // a cursor lives in its transaction (WITH HOLD is refused)
      this.closeCursors();
      // what follows in the same request is a new implicit transaction
      this.txnStarts();
    }
  }

  private endRequest(): void {
    if (this.mode !== 'implicit') return;
    try {
      this.endTxn(true);
    } catch (e) {
      this.send(this.errorFor(e));
    }
    this.mode = 'none';
  }

  /** After an error: the explicit transaction is failed; an implicit one is rolled back. */
  private fail(e: unknown): void {
    this.send(this.errorFor(e));
    if (this.mode === 'explicit') {
      this.failed = true;
      this.releaseIfDone();
    } else if (this.mode === 'implicit') {
      try {
        this.endTxn(false);
      } catch {
        // the rollback of a failed statement: nothing more to report
      }
    }
  }

  private errorFor(e: unknown): Buffer {
    const pe = e instanceof PgError ? e : fromSqlite(e);
    return errorMessage(pe.code, pe.message, pe.detail, pe.hint, pe.fields);
  }

  // ---------- transaction control, SET/SHOW ----------

  /**
   * pg_sleep: a timer, not an SQLite call, so other sessions go on. It ends
   * early with 57014 at statement_timeout or when the client cancels (cancel()).
   */
  private async sleep(st: SleepStatement, params: SqlValue[], formats: number[] = []): Promise<Result> {
    if (this.mode === 'explicit' && this.failed) throw inFailedTransaction();
    const arg = st.param ? params[st.param - 1] ?? null : st.seconds;
    const fields = sleepFields(st, formats);
    // strict, as PostgreSQL's: pg_sleep(NULL) is NULL at once
    if (arg === null) return { fields, rows: [[null]], tag: 'SELECT 1' };
    const ms = Math.max(0, Number(arg) * 1000) || 0;
    const limit = this.settings.ms('statement_timeout');
    await new Promise<void>((resolve, reject) => {
      const timedOut = limit > 0 && limit < ms;
      const timer = setTimeout(() => {
        this.cancelWait = null;
        if (timedOut) reject(new PgError('57014', 'canceling statement due to statement timeout'));
        else resolve();
      }, timedOut ? limit : ms);
      this.cancelWait = () => {
        clearTimeout(timer);
        this.cancelWait = null;
        reject(new PgError('57014', 'canceling statement due to user request'));
      };
    });
    return { fields, rows: [['']], tag: 'SELECT 1' };
  }

  /** A CancelRequest for this session: ends a pg_sleep under way (a statement SQLite runs finishes before any message is read). */
  cancel(): void {
    this.cancelWait?.();
  }

  /**
   * In a failed transaction block, as PostgreSQL: only a syntax error (its parser runs first) comes
   * before 25P02; a missing table or a refused construct does not.
   */
  private refuseIfFailed(st: Statement): void {
    if (!(this.mode === 'explicit' && this.failed) || endsFailure(st)) return;
    if (st.kind === 'error' && st.error.code === '42601') return;
    throw inFailedTransaction();
  }

  /**
   * DROP or TRUNCATE of several tables, VACUUM/ANALYZE, ALTER TABLE … ADD key:
   * under the write lock, all or nothing as one statement.
   */
  private async runChange(st: Extract<Statement, { kind: 'seq' | 'maintenance' | 'add_key' }>): Promise<Result> {
    const done: Result = { fields: null, rows: [], tag: st.tag };
    this.refuseIfFailed(st);
    if (st.kind === 'maintenance') {
      if (st.vacuum && this.mode === 'explicit') throw new PgError('25001', 'VACUUM cannot run inside a transaction block');
      for (const t of st.tables) if (!this.tableInfo(t).length) throw new PgError('42P01', `relation "${t}" does not exist`);
      // VACUUM has nothing to do (SQLite's own rewrites the whole file under an exclusive lock); ANALYZE feeds SQLite's planner
      if (!st.analyze || this.readOnlyNow()) return done;
    } else if (this.readOnlyNow()) throw new PgError('25006', `cannot execute ${st.tag} in a read-only transaction`);
    this.forgetSchema();
    const timeout = this.settings.lockTimeoutMs(this.engine.busyTimeoutMs);
    await this.beginFor(true, timeout, Date.now() + timeout);
    try {
      await this.asOneStatement(async () => {
        if (st.kind === 'maintenance') {
          const targets = st.tables.length ? st.tables.map(quoteIdent) : [''];
          for (const t of targets) this.db.exec(`ANALYZE ${t}`);
        } else if (st.kind === 'add_key') {
          addKey(this.db, st);
        } else {
          // TRUNCATE a, b where b references a: the keys are checked once both are empty, as PostgreSQL truncates them together
          if (st.tag === 'TRUNCATE TABLE') this.db.pragma('defer_foreign_keys = ON');
          try {
            for (const part of st.parts) await this.runSql(part, this.prepareSqlite(part), [], null, []);
          } finally {
            if (st.tag === 'TRUNCATE TABLE') this.db.pragma('defer_foreign_keys = OFF');
          }
        }
      });
    } catch (e) {
      throw fromSqlite(e);
    } finally {
      this.forgetSchema();
      this.releaseIfDone();
    }
    return done;
  }

  /** Runs `fn` in a savepoint: on failure what it did is taken back, the transaction's earlier work kept. */
  private async asOneStatement(fn: () => Promise<void>): Promise<void> {
    this.db.exec(`SAVEPOINT ${STATEMENT_SAVEPOINT}`);
    try {
      await fn();
    } catch (e) {
      this.rollbackStatement();
      throw e;
    }
    this.db.exec(`RELEASE ${STATEMENT_SAVEPOINT}`);
  }

  private rollbackStatement(): void {
    if (!this.db.inTransaction) return;
    try {
      this.db.exec(`ROLLBACK TO ${STATEMENT_SAVEPOINT}`);
      this.db.exec(`RELEASE ${STATEMENT_SAVEPOINT}`);
    } catch {
      // the transaction is gone (SQLite rolled it back): the caller's failure handling ends it
    }
  }

  // ---------- COPY ----------

  /** COPY … FROM STDIN: checked, the write lock taken, CopyInResponse sent; the data comes through copyMessage. */
  private async startCopyIn(st: CopyRun, rest: Statement[] | null): Promise<void> {
    this.refuseIfFailed(st);
    if (this.readOnlyNow()) throw new PgError('25006', 'cannot execute COPY FROM in a read-only transaction');
    const table = st.table!;
    const info = this.tableInfo(table);
    if (!info.length) throw new PgError('42P01', `relation "${table}" does not exist`);
    const columns = st.columns ?? info.map((c) => c.name);
    const seen = new Set<string>();
    for (const c of columns) {
      if (!info.some((x) => x.name.toLowerCase() === c.toLowerCase())) throw new PgError('42703', `column "${c}" of relation "${table}" does not exist`);
      if (seen.has(c.toLowerCase())) throw new PgError('42701', `column "${c}" specified more than once`);
      seen.add(c.toLowerCase());
    }
    for (const [option, list] of [['FORCE_NOT_NULL', st.options.forceNotNull], ['FORCE_NULL', st.options.forceNull]] as const) {
      const missing = list.find((c) => !seen.has(c.toLowerCase()));
      if (missing) throw new PgError('42P10', `${option} column "${missing}" not referenced by COPY`);
    }
    const insert = this.prepared(`INSERT INTO ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) VALUES (${columns.map((_c, i) => `$${i + 1}`).join(', ')})`, []);
    const timeout = this.settings.lockTimeoutMs(this.engine.busyTimeoutMs);
    await this.beginFor(true, timeout, Date.now() + timeout);
    this.db.exec(`SAVEPOINT ${STATEMENT_SAVEPOINT}`);
    this.copyIn = new CopyIn(table, columns, st.options, rest, insert);
    this.send(copyResponse('in', columns.length));
    this.flush();
  }

  /** A message while COPY FROM STDIN takes its data. */
  private async copyMessage(m: Message): Promise<void> {
    const c = this.copyIn!;
    try {
      switch (m.type) {
        case 0x64: // CopyData
          for (const row of c.reader.push(m.bytes.subarray(5))) await this.copyRow(c, row);
          return;
        case 0x63: // CopyDone
          for (const row of c.reader.end()) await this.copyRow(c, row);
          return await this.endCopyIn(null);
        case 0x66: // CopyFail
          throw new PgError('57014', `COPY from stdin failed: ${new BodyReader(m.bytes).cstring()}`);
        case 0x48: // Flush and Sync: ignored during COPY, as PostgreSQL ignores them
        case 0x53:
          return;
        case 0x58: // Terminate: the session ends, its transaction rolled back
          this.copyIn = null;
          return await this.handle(m);
        default:
          throw new PgError('08P01', `unexpected message type 0x${m.type.toString(16).toUpperCase().padStart(2, '0')} during COPY from stdin`);
      }
    } catch (e) {
      return this.endCopyIn(c.context(e));
    }
  }

  private async copyRow(c: CopyIn<Prepared>, row: CopyRow): Promise<void> {
    const prep = c.insert;
    const params: SqlValue[] = row.fields.map((v, i) => {
      if (v === null) return null;
      try {
        return decodeTextParam(v, prep.paramOids[i]!, this.zone());
      } catch (e) {
        throw c.context(e, row.line, i, v);
      }
    });
    for (const t of prep.asText ?? []) params[t.param - 1] = castToText(params[t.param - 1] ?? null, t.oid);
    try {
      await this.runSql(prep.st as SqlStatement, prep.sqlite!, params, null, [], prep.paramOids);
    } catch (e) {
      throw c.context(e, row.line);
    }
    c.count++;
  }

  /** The COPY's end: done (err null) or failed, and then the rest of its simple query, or the extended protocol's Sync. */
  private async endCopyIn(err: unknown): Promise<void> {
    const c = this.copyIn!;
    this.copyIn = null;
    if (err === null) {
      this.db.exec(`RELEASE ${STATEMENT_SAVEPOINT}`);
      this.send(commandComplete(`COPY ${c.count}`));
      if (c.rest) await this.runStatements(c.rest);
      return;
    }
    this.rollbackStatement();
    this.fail(err);
    if (c.rest) {
      // a simple query's statements after a failed COPY are not run, as PostgreSQL discards them
      this.endRequest();
      this.send(readyForQuery(this.status()));
      this.flush();
    } else this.skipping = true;
  }

  /** COPY … TO STDOUT: the SELECT's rows as COPY text or CSV. */
  private async copyOut(st: CopyRun): Promise<void> {
    const sel = st.select!;
    const res = await this.runSql(sel, this.prepareSqlite(sel), [], null, []);
    const fields = res.fields ?? [];
    const zone = this.zone();
    const text = res.rows.map((row) => row.map((v, i) => {
      if (v === null) return null;
      const f = fields[i]!;
      return encodeText(v, f.oid, typmodOf(f), zone);
    }));
    for (const b of copyOutMessages(fields.map((f) => f.name), text, st.options)) {
      this.send(b);
      if (this.outBytes > FLUSH_AT) this.flush();
    }
    this.send(commandComplete(`COPY ${res.rows.length}`));
  }

  private utility(st: Exclude<Statement, SqlStatement | SleepStatement | CopyRun | DeclareStatement | { kind: 'seq' | 'maintenance' | 'add_key' }>): Result {
    const done = (tag: string): Result => ({ fields: null, rows: [], tag });
    this.refuseIfFailed(st);
    if (st.kind === 'error') throw st.error;
    switch (st.kind) {
      case 'txn':
        if (st.op === 'begin' && this.mode !== 'explicit') {
          // an implicit transaction (earlier statements of the same request) carries on as the block
          if (this.mode === 'none') this.txnStarts();
          this.txnReadOnly = st.readOnly ?? this.defaultReadOnly();
        }
        return done(this.transaction(st.op, st.tag, st.name, st.chain));
      case 'set':
        if (st.name === 'transaction_read_only') {
          // this transaction's: outside a block PostgreSQL warns and forgets it
          if (this.mode !== 'explicit') this.send(noticeMessage('25P01', 'SET TRANSACTION can only be used in transaction blocks'));
          else this.txnReadOnly = st.value === null ? this.defaultReadOnly() : asBool(st.value) === true;
          return done(st.tag);
        }
        if (st.local && this.mode === 'none') {
          this.send(noticeMessage('25P01', 'SET LOCAL can only be used in transaction blocks'));
          // it does nothing, but the name is still checked
          checkSettable(st.name);
          return done(st.tag);
        }
        this.settings.set(st.name, st.value, st.local);
        return done(st.tag);
      case 'reset_all':
        this.settings.resetAll();
        return done(st.tag);
      case 'show': {
        const v = st.name === 'transaction_read_only' ? (this.readOnlyNow() ? 'on' : 'off') : this.settings.show(st.name);
        return { fields: [{ name: settingName(st.name), oid: OID.text, size: -1, format: 0 }], rows: [[v]], tag: 'SHOW' };
      }
      case 'deallocate':
        if (st.name === null) this.statements.clear();
        else if (!this.statements.delete(st.name)) throw new PgError('26000', `prepared statement "${st.name}" does not exist`);
        return done(st.tag);
      case 'discard':
        if (this.mode === 'explicit') throw new PgError('25001', 'DISCARD ALL cannot run inside a transaction block');
        this.settings.resetAll();
        this.statements.clear();
        return done(st.tag);
      case 'noop':
        return done(st.tag);
      case 'fetch':
        return this.fetchCursor(st);
      case 'close':
        if (st.name === null) this.closeCursors();
        else if (this.portals.get(st.name)?.cursor) this.portals.delete(st.name);
        else throw noSuchCursor(st.name);
        return done(st.tag);
    }
  }

  /** Closes the cursors declared after the block's first `savepoints` savepoints (all of them by default). */
  private closeCursors(savepoints = -1): void {
    for (const [name, p] of this.portals) if (p.cursor && p.depth! > savepoints) this.portals.delete(name);
  }

  /** DECLARE: the query runs whole now, in the block's transaction; FETCH hands its rows out. */
  private async declareCursor(st: DeclareStatement, params: SqlValue[]): Promise<Result> {
    this.refuseIfFailed(st);
    if (this.mode !== 'explicit') throw new PgError('25P01', 'DECLARE CURSOR can only be used in transaction blocks');
    if (this.portals.has(st.name)) throw new PgError('42P03', `cursor "${st.name}" already exists`);
    if (st.query.params > params.length) throw new PgError('42P02', `there is no parameter $${params.length + 1}`);
    const stmt = this.prepareSqlite(st.query);
    const result = await this.runSql(st.query, stmt, params, null, []);
    this.portals.set(st.name, { prep: { st: st.query, sqlite: stmt, paramOids: [] }, params, formats: [], result, sent: 0, cursor: true, depth: this.savepointSettings.length });
    return { fields: null, rows: [], tag: st.tag };
  }

  private fetchCursor(st: FetchStatement): Result {
    const cursor = this.portals.get(st.name);
    if (!cursor?.cursor) throw noSuchCursor(st.name);
    const res = cursor.result!;
    const start = cursor.sent;
    cursor.sent = Math.min(res.rows.length, start + st.count);
    const n = cursor.sent - start;
    if (st.move) return { fields: null, rows: [], tag: `MOVE ${n}` };
    return { fields: res.fields, rows: res.rows.slice(start, cursor.sent), tag: `FETCH ${n}` };
  }

  private transaction(op: string, tag: string, name?: string, chain = false): string {
    const inBlock = this.mode === 'explicit';
    const requireBlock = (what: string) => {
      if (!inBlock) throw new PgError('25P01', `${what} can only be used in transaction blocks`);
    };
    if (chain) {
      // AND CHAIN: the next transaction starts at once with the same characteristics, also after a failed one
      // was rolled back; not after a COMMIT that failed (endTxn throws)
      requireBlock(`${op === 'commit' ? 'COMMIT' : 'ROLLBACK'} AND CHAIN`);
      const readOnly = this.txnReadOnly;
      const answer = this.transaction(op, tag, name);
      this.mode = 'explicit';
      this.txnReadOnly = readOnly;
      return answer;
    }
    try {
      switch (op) {
        case 'begin':
          if (inBlock) this.send(noticeMessage('25001', 'there is already a transaction in progress'));
          this.mode = 'explicit';
          return tag;
        case 'commit':
          if (!inBlock) this.send(noticeMessage('25P01', 'there is no transaction in progress'));
          if (this.failed) {
            this.endTxn(false);
            return 'ROLLBACK';
          }
          this.endTxn(true);
          return tag;
        case 'rollback':
          if (!inBlock) this.send(noticeMessage('25P01', 'there is no transaction in progress'));
          this.endTxn(false);
          return tag;
        case 'savepoint':
          requireBlock('SAVEPOINT');
          if (this.db.inTransaction) this.db.exec(`SAVEPOINT ${quoteIdent(name!)}`);
          this.savepointSettings.push({ name: name!, saved: this.settings.snapshot(), locals: new Set(this.localSettings), opened: this.db.inTransaction });
          return tag;
        case 'release': {
          requireBlock('RELEASE SAVEPOINT');
          const at = this.savepointAt(name!);
          if (this.db.inTransaction) this.db.exec(`RELEASE ${quoteIdent(name!)}`);
          else if (at < 0) throw noSuchSavepoint(name!);
          if (at >= 0) this.savepointSettings.length = at;
          return tag;
        }
        case 'rollback_to': {
          requireBlock('ROLLBACK TO SAVEPOINT');
          const at = this.savepointAt(name!);
          if (this.db.inTransaction) this.db.exec(`ROLLBACK TO ${quoteIdent(name!)}`);
          else if (at < 0) throw noSuchSavepoint(name!);
          this.failed = false;
          // as PostgreSQL: the cursors declared since the savepoint are gone with what was done after it
          this.closeCursors(at);
          if (at >= 0) {
            // the savepoint stays; what was set after it is undone
            const sp = this.savepointSettings[at]!;
            this.savepointSettings.length = at + 1;
            this.settings.restore(sp.saved);
            this.localSettings = new Set(sp.locals);
          }
          return tag;
        }
        case 'prepare':
          // PostgreSQL ends the transaction block when PREPARE TRANSACTION fails (rolled back, the session idle)
          // and when the block had already failed (ROLLBACK, no error): a client seeing 'E' after it waited
          // for an end it had no reason to send (postgres.js's sql.prepare hung)
          if (inBlock) {
            const failed = this.failed;
            this.endTxn(false);
            if (failed) return 'ROLLBACK';
          }
          throw unsupported(TWO_PHASE);
        default:
          throw new PgError('0A000', `transaction command ${op} is not supported`);
      }
    } catch (e) {
      const msg = (e as Error).message;
      if (/no such savepoint/.test(msg)) throw noSuchSavepoint(name!);
      throw e;
    }
  }

  private reportSettings(): void {
    for (const [k, v] of this.settings.drainChanged()) this.send(parameterStatus(k, v));
  }

  // ---------- output ----------

  private encodeRow(row: SqlValue[], fields: Field[]): Buffer {
    return dataRow(row.map((v, i) => {
      if (v === null) return null;
      const f = fields[i]!;
      return f.format === 1 ? encodeBinary(v, f.oid, typmodOf(f)) : Buffer.from(encodeText(v, f.oid, typmodOf(f), this.zone()), 'utf8');
    }));
  }

  private send(b: Buffer): void {
    this.out.push(b);
    this.outBytes += b.length;
  }

  private flush(): void {
    if (!this.out.length || this.closed) return;
    const b = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    this.outBytes = 0;
    this.sentSinceYield += b.length;
    this.sink(b);
  }

  /** Protocol violation: FATAL, then the session ends. */
  private die(code: string, message: string): void {
    this.send(fatal(code, message));
    this.flush();
    this.close();
    this.sink(null);
  }
}

/** The typmod a value is printed with: the column's, else a numeric's scale (Field.scale) as a typmod. */
const typmodOf = (f: Field): number => f.typmod ?? (f.scale !== undefined ? f.scale + 4 : -1);

/** SQLite's error as PostgreSQL's; DROP TABLE names the missing table as PostgreSQL's does. */
function sqliteError(e: unknown, st: SqlStatement): PgError {
  const pe = fromSqlite(e);
  return st.tag === 'DROP TABLE' && pe.code === '42P01' ? new PgError(pe.code, pe.message.replace(/^relation /, 'table ')) : pe;
}

const noSuchSavepoint = (name: string): PgError => new PgError('3B001', `savepoint "${name}" does not exist`);

/** Statements that answer with no rows: a portal's Describe is NoData. */
const NO_RESULT = new Set<Statement['kind']>(['seq', 'maintenance', 'add_key', 'copy', 'declare', 'close']);

/** COMMIT and PREPARE TRANSACTION (they roll back), ROLLBACK and ROLLBACK TO: the statements a failed transaction accepts. */
function endsFailure(st: Statement | null): boolean {
  return st?.kind === 'txn' && (st.op === 'commit' || st.op === 'rollback' || st.op === 'rollback_to' || st.op === 'prepare');
}

/** More values than SQLite binds to one statement: the client's parameters, the hoisted constants, the declared types. */
/**
 * A `$n::numeric` compared with a column, as the bound on `side` of its value
 * (translate.ts, paramCompare): a value SQLite holds as it is (beside a float
 * column, the double PostgreSQL's cast makes of it), one it cannot the
 * column's nearest value on that side; past 2^53 such a value is refused as
 * one stored would be.
 */
function paramBound(v: SqlValue, side: DecimalBound, float: boolean): SqlValue {
  if (typeof v !== 'string') return v;
  if (keepsWhole(v)) return float ? decimalBound(v, side, true) : v;
  if (!boundable(v)) return keptWhole(v);
  return decimalBound(v, side, float);
}

const bindsTooMany = (st: SqlStatement) => st.params + st.literals.length + st.columnTypes.length > SQLITE_MAX_VARIABLES;

/** pg_sleep's one result column: void, printed empty. */
function sleepFields(st: SleepStatement, formats: number[]): Field[] {
  return [{ name: st.name, oid: OID.void, size: typeSize(OID.void), format: formats[0] ?? 0 }];
}
