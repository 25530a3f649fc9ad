// Applying captured row changes to the mirror, as one transaction: upsert by
// primary key from the full new row, delete by key, truncate. Rows travel as
// the JSON text the source produced (to_json: json, not jsonb, so a json
// column's text and a float's -0 arrive as written; json, jsonb and array
// columns as their text: pg-capture.ts, TEXT_MARKER) and are turned back into
// typed rows by the mirror itself (json_populate_recordset), so every type
// round-trips through PostgreSQL's own text forms. One statement per run of same-table,
// same-kind changes; the last image of a key within a run wins.
// Each table's upsert and delete are prepared once per apply connection (a
// cached plan, no SQL text to parse per transaction); a whole apply is one
// write and one round trip: Bind/Execute per run and one Sync, which makes
// the runs one implicit transaction (all or nothing). Sessions committing at
// the same moment share one such transaction (group-commit.ts).
import { Collect } from '../backend-link.ts';
import { BackendStartupError } from '../backend-pg.ts';
import { bindJsonArray, bindMessage, EXECUTE, parseErrorFields, parseMessage, queryMessage, SYNC } from '../messages.ts';
import { ApplyPool, type ApplyConn } from './apply-pool.ts';
import { memberNames } from './json-scan.ts';
import { GroupCommit } from './group-commit.ts';
import { TOOL_SESSION_OPTIONS } from '../../common/pg-config.ts';
import { carriedAsText, TEXT_MARKER } from '../capture/pg-capture.ts';
import { EPOCH_DDL, EPOCH_ENTER, EPOCH_LOCK, EPOCH_READ, LEDGER_DDL, LEDGER_DUE, LEDGER_FORGET, LEDGER_INSERT, LEDGER_SCHEMA, ledgerEntries, STALE_EPOCH } from './ledger.ts';

const LEDGER_STATEMENT = 'cutover_ledger';
const ENTER_STATEMENT = 'cutover_enter';

export interface Change {
  seq: number;
  /** Qualified, quoted table name as captured: "schema"."table". */
  tbl: string;
  /** U upsert, D delete, T truncate, R re-sync from the source (dirty key). */
  op: 'U' | 'D' | 'T' | 'R';
  /** jsonb text of the key columns. */
  pk: string;
  /**
   * JSON text of the full new row as capture wrote it (U only): to_json's, or
   * with text forms (pg-capture.ts, TEXT_MARKER). A large row drained by a
   * session stays its UTF-8 bytes (drain-statement.ts): rowText makes it a
   * string where one is needed.
   */
  row: string | Buffer | null;
  /** The source transaction that made it, when a session drained it before its COMMIT (the mirror's ledger: ledger.ts). */
  txid?: string;
}

/** A change's row as a string (one copy of a large row: only off the session's path). */
export function rowText(row: string | Buffer): string {
  return typeof row === 'string' ? row : row.toString('utf8');
}

/** What a mirror direction writes through: PostgreSQL (MirrorApplier) or an SQLite file (SqliteApplier). */
export interface ChangeApplier {
  /** The changes, in order, as one transaction on the mirror. */
  apply(changes: Change[]): Promise<void>;
  /** The same for a session about to commit: may share a mirror transaction with other sessions' (group-commit.ts). */
  applyGrouped?(changes: Change[]): Promise<void>;
  /** An empty apply for each of these tables, rolled back: throws the reason it would fail. */
  probe(tables: string[]): Promise<void>;
  /** Whether the mirror's server process `pid` is running a statement (asked within the apply deadline). */
  running?(pid: number): Promise<boolean>;
  /**
   * Before re-syncing rows from the source: make sure no apply given up
   * earlier can still land on the mirror after them (throws if it cannot).
   */
  fence?(): Promise<void>;
  /** Ledger entries at least this old, one per key: their source transactions should have ended (ledger.ts). */
  ledgerDue?(minAgeMs: number): Promise<{ txid: string; tbl: string; pk: string }[]>;
  /** Drop the ledger entries of these source transactions. */
  ledgerForget?(txids: string[]): Promise<void>;
  /** Why there is no ledger (the mirror's role may not create it), if so. */
  readonly ledgerOff?: string | null;
  close(): Promise<void>;
}

interface TableMeta {
  columns: string[];
  /** Every column a captured row of the table may name: generated ones too (to_json writes them; the insert leaves them out). */
  known: Set<string>;
  /** The columns the upsert writes. */
  writable: Set<string>;
  /** Json, jsonb and array columns with their types: carried as text in marked rows. */
  asText: Map<string, string>;
  /** Every writable column's type, with its typmod. */
  types: Map<string, string>;
  /** Upserts of rows that name only some of the columns, by the columns they name. */
  partial: Map<string, { name: string; sql: string }>;
  key: string[];
  upsert: string;
  del: string;
  /** Prepared-statement names of upsert and delete on every apply connection. */
  upsertName: string;
  delName: string;
}

/**
 * Upsert by key of the rows in $1 (a JSON array of captured rows), writing
 * `columns`. Json, jsonb and array columns (`asText`) come as their text in
 * rows capture marked so (pg-capture.ts, TEXT_MARKER), cast by the column's
 * type without its typmod (the insert applies that, as json_populate_record
 * does); in rows an older trigger captured, as json_populate_record reads them.
 * Such a table's rows are read by one json_to_recordset, its columns typed
 * as the table's (`types`, typmods included, as json_populate_record types
 * them) and the asText ones as json. Each row was parsed three times more
 * before, by json_array_elements, json_populate_record and each ->> of the
 * marker and of every asText column: a 50 MB bytea beside a jsonb column
 * took 1.7 s to read on the mirror against 1.2 s in a table without one.
 */
function upsertSql(tbl: string, columns: string[], key: string[], asText: Map<string, string>, types: Map<string, string>): string {
  const cols = columns.map(q).join(', ');
  const nonKey = columns.filter((c) => !key.includes(c));
  const onConflict = nonKey.length ? `DO UPDATE SET ${nonKey.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ')}` : 'DO NOTHING';
  const text = columns.filter((c) => asText.has(c));
  const from = text.length
    ? `SELECT ${columns.map((col) => {
        const type = asText.get(col);
        const v = `cutover_r.${q(col)}`;
        // a json string's text is #>> '{}'; an older row's value goes through json_populate_record alone (arrays of arrays)
        return type
          ? `CASE WHEN cutover_r.${q(TEXT_MARKER)} IS NOT NULL THEN (${v} #>> '{}')::${type} ELSE (json_populate_record(NULL::${tbl}, json_build_object(${lit(col)}, ${v}))).${q(col)} END`
          : v;
      }).join(', ')} FROM json_to_recordset($1::json) AS cutover_r(${[...columns.map((c) => `${q(c)} ${asText.has(c) ? 'json' : types.get(c)!}`), `${q(TEXT_MARKER)} text`].join(', ')})`
    : `SELECT ${cols} FROM json_populate_recordset(NULL::${tbl}, $1::json)`;
  return `INSERT INTO ${tbl} (${cols}) OVERRIDING SYSTEM VALUE ${from} ON CONFLICT (${key.map(q).join(', ')}) ${onConflict}`;
}

/** A member of a row not among the table's known columns, or null. */
function unknownMember(meta: TableMeta, named: string[][]): string | null {
  for (const names of named) for (const name of names) if (!meta.known.has(name)) return name;
  return null;
}

const q = (id: string) => '"' + id.replace(/"/g, '""') + '"';
const lit = (s: string) => "'" + s.replace(/'/g, "''") + "'";

export class MirrorApplyError extends Error {}
/** No apply connection could be had: every session's apply would fail alike. */
export class MirrorUnreachableError extends MirrorApplyError {}

export class MirrorApplier implements ChangeApplier {
  private pool: ApplyPool;
  private meta = new Map<string, Promise<TableMeta>>();
  private statements = 0;
  /** Whether this role may switch off the mirror's own triggers and FK actions. */
  replicaRole: boolean | null = null;
  // batches in flight up to the pool's size: a cap of 4 made sessions queue for a slot and lost
  // more than the larger batches won (pgbench -N, 16 clients, loaded 2 cores: 0.23 of direct, against 0.28–0.34)
  private readonly group: GroupCommit;

  /**
   * Server processes of apply connections given up mid-request (no answer by
   * the deadline). Their request may still arrive and commit later, after a
   * newer re-sync of the same rows, so fence() ends them before the drainer
   * applies anything.
   */
  private readonly abandoned = new Set<number>();
  /** Whether the mirror has the ledger table (created on first need; 'off' if this role may not create it). */
  private ledger: 'unknown' | 'on' | 'off' = 'unknown';

  constructor(
    private readonly targetUrl: string,
    private readonly max = APPLY_POOL_MAX,
    private readonly synchronousCommit = 'on',
    /** How long one apply round trip may take before the connection is given up (the target frozen or cut off, not closed). */
    private readonly roundTripMs = APPLY_ROUND_TRIP_MS,
    /** The apply sessions' statement_timeout; a large apply gets its round-trip deadline when that is longer. */
    private readonly statementTimeoutMs = APPLY_STATEMENT_TIMEOUT_MS,
  ) {
    this.group = new GroupCommit((lists) => this.applyLists(lists), (changes) => this.applyLists([changes]), max, (e) => e instanceof MirrorUnreachableError);
    this.pool = this.makePool(false);
  }

  private options(replica: boolean): string {
    // session settings travel in the start-up packet: no extra round trip, no query racing the first apply
    const options = [`-c statement_timeout=${this.statementTimeoutMs}`, `-c synchronous_commit=${this.synchronousCommit}`, TOOL_SESSION_OPTIONS];
    // the source already ran triggers and cascades: the mirror applies rows, not effects
    if (replica) options.push('-c session_replication_role=replica');
    return options.join(' ');
  }

  private makePool(replica: boolean): ApplyPool {
    return new ApplyPool(this.targetUrl, this.max, this.options(replica));
  }

  /** Learn once whether this role may use session_replication_role (superuser or equivalent). */
  async init(): Promise<void> {
    try {
      const link = await this.pool.connectOnce(this.options(true));
      link.destroy();
      this.replicaRole = true;
    } catch (e) {
      this.replicaRole = e instanceof BackendStartupError && e.code === '42501' ? false : null;
    }
    if (this.replicaRole) {
      const old = this.pool;
      this.pool = this.makePool(true);
      await old.end();
    }
  }

  private tableMeta(conn: ApplyConn, tbl: string): Promise<TableMeta> {
    let m = this.meta.get(tbl);
    if (!m) {
      m = (async () => {
        const c = await this.roundTrip(conn, [
          queryMessage(`SELECT a.attname, coalesce(a.attnum = ANY (i.indkey), false),
                  ${carriedAsText('a.atttypid')}, format_type(a.atttypid, NULL), a.attgenerated <> '', format_type(a.atttypid, a.atttypmod)
             FROM pg_attribute a
             LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
            WHERE a.attrelid = ${lit(tbl)}::regclass AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum`),
        ]);
        if (c.error) throw new MirrorApplyError(`table ${tbl} on the target: ${parseErrorFields(c.error.bytes.subarray(5)).M}`);
        if (!c.rows.length) throw new MirrorApplyError(`table ${tbl} does not exist on the target`);
        const known = new Set([...c.rows.map((x) => x[0]!), TEXT_MARKER]);
        // generated columns are computed by the mirror: never written
        const rows = c.rows.filter((x) => x[4] !== 't');
        const columns = rows.map((x) => x[0]!);
        const key = rows.filter((x) => x[1] === 't').map((x) => x[0]!);
        if (!key.length) throw new MirrorApplyError(`table ${tbl} has no primary key on the target`);
        const n = ++this.statements;
        const asText = new Map(rows.filter((x) => x[2] === 't').map((x) => [x[0]!, x[3]!]));
        const types = new Map(rows.map((x) => [x[0]!, x[5]!]));
        return {
          columns,
          known,
          writable: new Set(columns),
          asText,
          types,
          partial: new Map(),
          key,
          upsert: upsertSql(tbl, columns, key, asText, types),
          del: `DELETE FROM ${tbl} t USING jsonb_populate_recordset(NULL::${tbl}, $1::jsonb) k WHERE ${key.map((c) => `t.${q(c)} = k.${q(c)}`).join(' AND ')}`,
          upsertName: `cutover_u${n}`,
          delName: `cutover_d${n}`,
        };
      })();
      m.catch(() => this.meta.delete(tbl));
      this.meta.set(tbl, m);
    }
    return m;
  }

  /**
   * One request on an apply connection, answered within the deadline. A target
   * that stops answering without closing (a frozen host, a cut network) would
   * otherwise hold a client's COMMIT, or the drainer's locks on source rows,
   * for the minutes TCP takes to notice. Past the deadline the connection is
   * dropped and its server process remembered for fence().
   */
  private async roundTrip(conn: ApplyConn, bufs: Buffer[]): Promise<Collect> {
    const c = new Collect();
    conn.link.request(bufs, c);
    let late = false;
    const ms = this.deadlineMs(byteLength(bufs));
    const timer = setTimeout(() => {
      late = true;
      if (conn.link.cancelKey) this.abandoned.add(conn.link.cancelKey.pid);
      conn.link.destroy();
    }, ms);
    try {
      await c.done;
    } catch (e) {
      if (late) throw new MirrorUnreachableError(`the mirror did not answer within ${ms} ms`);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return c;
  }

  /**
   * How long a request of this many bytes may take. A large apply is slow, not
   * lost: past 1 MB, 250 ms more per MB sent (a 40 MB bytea is 80 MB of JSON,
   * which a loaded machine took more than the bare deadline to parse and write).
   */
  private deadlineMs(bytes: number): number {
    return this.roundTripMs + (bytes > LARGE_APPLY ? Math.ceil(bytes / 4096) : 0);
  }

  /** Runs one pipeline (ending in Sync) on the connection; throws the server's first error. */
  private async send(conn: ApplyConn, bufs: Buffer[]): Promise<void> {
    const c = await this.roundTrip(conn, bufs);
    if (c.error) {
      const f = parseErrorFields(c.error.bytes.subarray(5));
      throw Object.assign(new Error(f.M ?? 'error'), { code: f.C });
    }
  }

  /**
   * Apply changes in order, in one mirror transaction and one round trip:
   * Bind/Execute of the table's prepared upsert or delete per run (Parse
   * first, the first time this connection sees it), one Sync.
   */
  apply(changes: Change[]): Promise<void> {
    return this.applyLists([changes]);
  }

  applyGrouped(changes: Change[]): Promise<void> {
    return this.group.apply(changes);
  }

  /**
   * Several sessions' changes (independent of each other: group-commit.ts) as
   * one mirror transaction. A deadlock or serialization failure on the mirror
   * (another writer there, such as the drainer, took the same rows in another
   * order) is transient: the transaction is tried again on a fresh connection,
   * which is safe because upserts of full rows and deletes by key are
   * idempotent and the source still holds these rows' locks.
   */
  private async applyLists(lists: Change[][]): Promise<void> {
    let cleared = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.applyListsOnce(lists);
      } catch (e) {
        const code = (e as { code?: string }).code;
        // A unique value that moved between rows in one source transaction (swapped through a temporary
        // value) cannot be upserted row by row over the mirror's old rows, whichever comes first: the
        // rows' keys are deleted first, then written. Only with triggers off on the mirror (a delete there
        // would cascade), and for one session's list (group commit falls back to those on an error).
        if (code === '23505' && this.replicaRole === true && lists.length === 1 && !cleared) {
          cleared = true;
          lists = [clearedFirst(lists[0]!)];
          continue;
        }
        // the ledger table gone under us (dropped by hand): made again, then the apply once more
        if ((code === '42P01' || code === '42883') && this.ledger === 'on' && attempt < 3 && (e as Error).message.includes(LEDGER_SCHEMA)) {
          this.ledger = 'unknown';
          continue;
        }
        // another proxy fenced the mirror (it started): this apply is current, sent again under the new epoch
        if (code === STALE_EPOCH && attempt < 3) {
          await this.readEpoch();
          continue;
        }
        if (attempt >= 3 || (code !== '40P01' && code !== '40001')) throw e;
        await new Promise((r) => setTimeout(r, 5 * attempt));
      }
    }
  }

  private async applyListsOnce(lists: Change[][]): Promise<void> {
    if (!lists.some((l) => l.length)) return;
    try {
      // after an error the implicit transaction is rolled back; the connection is dropped anyway
      await this.onPooled('mirror apply failed', async (conn) => {
        const bufs: Buffer[] = [];
        const parsed: string[] = [];
        /** Bind/Execute of a named statement, its Parse first the first time this connection sees it. */
        const execute = (name: string, sql: string, bind: Buffer[]) => {
          if (!conn.prepared.has(name) && !parsed.includes(name)) {
            bufs.push(parseMessage(name, sql));
            parsed.push(name);
          }
          bufs.push(...bind, EXECUTE);
        };
        /** The statement once per slice of `items` (the JSON array its $1 takes). */
        const executeAll = (name: string, sql: string, items: RowText[]) => {
          for (const slice of bySize(items)) execute(name, sql, bindJsonArray(name, slice));
        };
        // in the same mirror transaction as the rows: which source transactions these are (ledger.ts)
        const entries = ledgerEntries(lists);
        const ledger = await this.ledgerReady(conn);
        if (ledger && this.epoch !== null) execute(ENTER_STATEMENT, EPOCH_ENTER, [bindMessage(ENTER_STATEMENT, [this.epoch])]);
        const preamble = bufs.length;
        if (entries && ledger) execute(LEDGER_STATEMENT, LEDGER_INSERT, [bindMessage(LEDGER_STATEMENT, [entries])]);
        for (const run of mergedRuns(lists)) {
          if (run.op === 'T') {
            // TRUNCATE a CASCADE, or TRUNCATE a, b, on the source: a change row per table, each applied alone,
            // and PostgreSQL refuses to empty a table another references. The source emptied every table that
            // references this one in the same statement (it refuses otherwise), so CASCADE empties the same set.
            bufs.push(parseMessage('', `TRUNCATE ${run.tbl} CASCADE`), bindMessage('', []), EXECUTE);
            continue;
          }
          if (run.op === 'U') {
            for (const u of await this.upserts(conn, run.tbl, run.items)) executeAll(u.name, u.sql, u.rows);
            continue;
          }
          const meta = await this.tableMeta(conn, run.tbl);
          executeAll(meta.delName, meta.del, run.items);
        }
        if (bufs.length === preamble) return;
        bufs.push(SYNC);
        const bytes = byteLength(bufs);
        if (this.deadlineMs(bytes) > this.statementTimeoutMs) {
          // the session's statement_timeout would cancel it: a row of 240 MB failed there at every retry, its key
          // dirty and reads held on the source for good. The server gets the proxy's own deadline, for this
          // transaction only (set_config's is_local: the implicit transaction ends at the Sync).
          bufs.unshift(parseMessage('', `SELECT set_config('statement_timeout', $1, true)`), bindMessage('', [String(this.deadlineMs(bytes))]), EXECUTE);
        }
        await this.send(conn, bufs);
        for (const n of parsed) conn.prepared.add(n);
      });
    } catch (e) {
      // unreachable stays unreachable: group commit does not retry those session by session
      if (e instanceof MirrorUnreachableError) throw e;
      const code = (e as { code?: string }).code;
      // a column gone from the target since its statements were built (allowDdl): built again at the next apply
      if (code === '42703') this.meta.clear();
      throw Object.assign(new MirrorApplyError(`mirror apply failed: ${(e as Error).message}`), { code });
    }
  }

  /**
   * The table's statements, able to write every column the rows name. A
   * column added while mirroring (allowDdl) is in the source's rows from then
   * on, and statements built before it would drop its values without a word:
   * they are built again from the target's columns, and if the target still
   * lacks the column the apply fails (the keys go dirty, reads stop, the
   * drainer retries) until it is added there.
   */
  private async metaNaming(conn: ApplyConn, tbl: string, named: string[][]): Promise<TableMeta> {
    const meta = await this.tableMeta(conn, tbl);
    if (!unknownMember(meta, named)) return meta;
    this.meta.delete(tbl);
    const fresh = await this.tableMeta(conn, tbl);
    const missing = unknownMember(fresh, named);
    if (missing) throw new MirrorApplyError(`column "${missing}" of ${tbl} is on the source but not on the target: add it there too (DDL let through reaches the source only)`);
    return fresh;
  }

  /**
   * The upserts of a run of rows of `tbl`: one, unless some rows name only
   * some of the target's columns (one added to the new database before the
   * source, allowDdl). Those rows are written by statements that leave the
   * columns they do not name alone: a new row takes the column's default, an
   * existing one keeps its value, instead of NULL (which a NOT NULL column
   * refuses, failing every write to the table).
   */
  private async upserts(conn: ApplyConn, tbl: string, rows: RowText[]): Promise<{ name: string; sql: string; rows: RowText[] }[]> {
    const named = rows.map(memberNames);
    const meta = await this.metaNaming(conn, tbl, named);
    const complete = (names: string[]) => {
      let n = 0;
      for (const x of names) if (meta.writable.has(x)) n++;
      return n === meta.columns.length;
    };
    if (named.every(complete)) return [{ name: meta.upsertName, sql: meta.upsert, rows }];
    const groups = new Map<string, { name: string; sql: string; rows: RowText[] }>();
    named.forEach((names, i) => {
      const cols = meta.columns.filter((c) => names.includes(c));
      const missingKey = meta.key.find((k) => !cols.includes(k));
      if (missingKey) throw new MirrorApplyError(`a row of ${tbl} has no value for key column "${missingKey}"`);
      const sig = cols.join('\0');
      let g = groups.get(sig);
      if (!g) {
        let stmt = meta.partial.get(sig);
        if (!stmt) meta.partial.set(sig, (stmt = { name: `${meta.upsertName}_${meta.partial.size + 1}`, sql: upsertSql(tbl, cols, meta.key, meta.asText, meta.types) }));
        groups.set(sig, (g = { ...stmt, rows: [] }));
      }
      g.rows.push(rows[i]!);
    });
    return [...groups.values()];
  }

  /**
   * `work` on a pooled apply connection (acquiring it failed: unreachable,
   * `what` naming the work). The connection goes back to the pool unless
   * `work` threw or called `drop` (its answer was an error).
   */
  private async onPooled<T>(what: string, work: (conn: ApplyConn, drop: () => void) => Promise<T>): Promise<T> {
    const conn = await this.pool.acquire().catch((e: Error) => {
      throw new MirrorUnreachableError(`${what}: ${e.message}`);
    });
    let ok = false;
    let dropped = false;
    try {
      const value = await work(conn, () => (dropped = true));
      ok = !dropped;
      return value;
    } finally {
      this.pool.release(conn, ok);
    }
  }

  /**
   * `work` on a connection of its own, outside the pool, ended after it.
   * `ask` runs one statement within the round-trip deadline and gives the
   * first column of its first row; an error throws (`failing` naming the
   * work), except the SQLSTATE `allow`, which gives null.
   */
  private async onOwnConnection<T>(unreachable: string, failing: string, work: (ask: (sql: string, allow?: string) => Promise<string | null | undefined>) => Promise<T>): Promise<T> {
    const link = await this.pool.connectOnce(this.options(false)).catch((e: Error) => {
      throw new MirrorUnreachableError(`${unreachable}: ${e.message}`);
    });
    const conn: ApplyConn = { link, prepared: new Set(), idleSince: 0 };
    try {
      return await work(async (sql, allow) => {
        const c = await this.roundTrip(conn, [queryMessage(sql)]);
        const f = c.error ? parseErrorFields(c.error.bytes.subarray(5)) : null;
        if (f && f.C === allow) return null;
        if (f) throw new MirrorApplyError(`${failing}: ${f.M}`);
        return c.rows[0]?.[0];
      });
    } finally {
      link.destroy();
    }
  }

  /**
   * Prove this mirror can take the given tables' changes before it has to:
   * each table's upsert and delete run with an empty batch in a transaction
   * that is rolled back (table present, key known, privileges granted).
   */
  async probe(tables: string[]): Promise<void> {
    const conn = await this.pool.acquire().catch((e: Error) => {
      throw new MirrorApplyError(`mirror apply test failed: ${e.message}`);
    });
    let ok = false;
    try {
      const bufs: Buffer[] = [parseMessage('', 'BEGIN'), bindMessage('', []), EXECUTE];
      for (const tbl of tables) {
        const meta = await this.tableMeta(conn, tbl);
        for (const sql of [meta.upsert, meta.del]) bufs.push(parseMessage('', sql), bindMessage('', ['[]']), EXECUTE);
      }
      bufs.push(parseMessage('', 'ROLLBACK'), bindMessage('', []), EXECUTE, SYNC);
      await this.send(conn, bufs);
      ok = true;
    } catch (e) {
      throw new MirrorApplyError(`mirror apply test failed: ${(e as Error).message}`);
    } finally {
      this.pool.release(conn, ok);
    }
  }

  /** The ledger table exists (made the first time it is needed, once for all sessions); false if this role may not make it. */
  private ledgerReady(conn: ApplyConn): Promise<boolean> | boolean {
    if (this.ledger !== 'unknown') return this.ledger === 'on';
    this.ledgerMaking ??= (async () => {
      try {
        const c = await this.roundTrip(conn, [queryMessage(LEDGER_DDL + ';' + EPOCH_DDL)]);
        const f = c.error ? parseErrorFields(c.error.bytes.subarray(5)) : null;
        // 23505/42P07: another proxy made it at the same moment
        if (!f || f.C === '23505' || f.C === '42P07') {
          this.ledger = 'on';
          await this.readEpoch(conn);
        }
        else if (f.C === '42501') {
          // no CREATE on the mirror database: mirroring works, only a proxy crash mid-commit goes unrepaired
          this.ledger = 'off';
          this.ledgerOff = f.M ?? 'permission denied';
        } else throw Object.assign(new Error(`creating the mirror's ledger: ${f.M}`), { code: f.C });
        return this.ledger === 'on';
      } finally {
        this.ledgerMaking = null;
      }
    })();
    return this.ledgerMaking;
  }

  private ledgerMaking: Promise<boolean> | null = null;

  /** The fencing epoch this applier's applies are sent under (ledger.ts); null without a ledger. */
  private epoch: string | null = null;
  /** Whether this applier has fenced off every apply sent before it started (once, before its first re-sync). */
  private epochBumped = false;

  /** The mirror's epoch, on `on` or a pooled connection. */
  private async readEpoch(on?: ApplyConn): Promise<void> {
    const read = async (conn: ApplyConn) => {
      const c = await this.roundTrip(conn, [queryMessage(EPOCH_READ)]);
      if (c.error) {
        const f = parseErrorFields(c.error.bytes.subarray(5));
        throw Object.assign(new MirrorApplyError(`mirror epoch: ${f.M}`), { code: f.C });
      }
      this.epoch = c.rows[0]?.[0] ?? null;
    };
    return on ? read(on) : this.onPooled('mirror epoch', read);
  }

  /**
   * Fence off every apply sent before now, by any proxy: the epoch moves on
   * under the advisory lock taken alone. In-flight applies finish first; one
   * holding the lock past the round-trip deadline was given up on by its own
   * proxy (or its proxy is gone) and is ended.
   */
  private async bumpEpoch(): Promise<void> {
    if (!(await this.ledgerReadyAlone())) {
      this.epochBumped = true;
      return;
    }
    await this.onOwnConnection('cannot fence the mirror', 'fencing the mirror', async (ask) => {
      await ask(`SET lock_timeout = '${Math.max(100, Math.floor(this.roundTripMs / 2))}ms'`);
      const key = BigInt(EPOCH_LOCK);
      const holders = `FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.classid = ${Number(key >> 32n)} AND l.objid = ${Number(key & 0xffffffffn)} AND l.objsubid = 1
          AND l.granted AND a.application_name = 'cutover-mirror' AND l.pid <> pg_backend_pid()`;
      if ((await ask(`SELECT pg_advisory_lock(${EPOCH_LOCK})`, '55P03')) === null) {
        await ask(`SELECT count(pg_terminate_backend(l.pid)) ${holders}`);
        await ask(`SET lock_timeout = '${this.roundTripMs}ms'`);
        await ask(`SELECT pg_advisory_lock(${EPOCH_LOCK})`);
      }
      this.epoch = (await ask(`UPDATE ${LEDGER_SCHEMA}.epoch SET n = n + 1 RETURNING n::text`)) ?? null;
      await ask(`SELECT pg_advisory_unlock(${EPOCH_LOCK})`);
      this.epochBumped = true;
    });
  }

  /** ledgerReady on a pooled connection of its own. */
  private async ledgerReadyAlone(): Promise<boolean> {
    if (this.ledger !== 'unknown') return this.ledger === 'on';
    return this.onPooled('mirror ledger', async (conn) => this.ledgerReady(conn));
  }

  /** Why the ledger is off, if it is. */
  ledgerOff: string | null = null;

  async ledgerDue(minAgeMs: number): Promise<{ txid: string; tbl: string; pk: string }[]> {
    const c = await this.ledgerQuery(LEDGER_DUE(minAgeMs, 10_000));
    return (c?.rows ?? []).map((r) => ({ txid: r[0]!, tbl: r[1]!, pk: r[2]! }));
  }

  async ledgerForget(txids: string[]): Promise<void> {
    if (txids.length) await this.ledgerQuery(LEDGER_FORGET(txids));
  }

  /** A statement on the ledger; null if there is no ledger table (never made: nothing recorded). */
  private async ledgerQuery(sql: string): Promise<Collect | null> {
    return this.onPooled('mirror ledger', async (conn, drop) => {
      const c = await this.roundTrip(conn, [queryMessage(sql)]);
      if (!c.error) return c;
      drop();
      const f = parseErrorFields(c.error.bytes.subarray(5));
      if (f.C === '42P01' || f.C === '3F000') return null;
      throw new MirrorApplyError(`mirror ledger: ${f.M}`);
    });
  }

  /**
   * Whether the mirror's server process `pid` is running a statement, asked
   * on an apply connection within the round-trip deadline: tells a slow read
   * from a frozen mirror or a lost connection (false for both).
   */
  async running(pid: number): Promise<boolean> {
    return this.onPooled('mirror', async (conn, drop) => {
      const c = await this.roundTrip(conn, [queryMessage(`SELECT state FROM pg_stat_activity WHERE pid = ${Math.trunc(pid)}`)]);
      if (c.error) drop();
      return !c.error && c.rows[0]?.[0] === 'active';
    }).catch(() => false);
  }

  /**
   * End the server processes of abandoned applies and wait until they are
   * gone: a request that reaches one later finds no session to run in. On a
   * connection of its own, within the round-trip deadline; throws if the
   * mirror cannot be reached (the caller tries again later).
   */
  async fence(): Promise<void> {
    if (!this.epochBumped) await this.bumpEpoch();
    if (!this.abandoned.size) return;
    const pids = [...this.abandoned];
    const list = `'{${pids.join(',')}}'::int[]`;
    // only the mirror's own sessions: a process id the server has since given to another session is left alone
    const which = `FROM pg_stat_activity WHERE pid = ANY (${list}) AND application_name = 'cutover-mirror'`;
    const deadline = Date.now() + this.roundTripMs;
    await this.onOwnConnection(`cannot fence off ${pids.length} abandoned mirror apply(s)`, 'fencing off abandoned mirror applies', async (ask) => {
      await ask(`SELECT count(pg_terminate_backend(pid)) ${which}`);
      // a terminated process leaves pg_stat_activity when it has exited: its transaction is over
      for (;;) {
        const left = Number(await ask(`SELECT count(*) ${which}`));
        if (left === 0) break;
        if (Date.now() > deadline) throw new MirrorUnreachableError(`${left} abandoned mirror apply(s) still running on the mirror after ${this.roundTripMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const p of pids) this.abandoned.delete(p);
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The same changes after a delete of every key they write. */
function clearedFirst(changes: Change[]): Change[] {
  const seen = new Set<string>();
  const clears: Change[] = [];
  for (const c of changes) {
    const id = c.tbl + '\0' + c.pk;
    if (c.op === 'U' && !seen.has(id)) {
      seen.add(id);
      clears.push({ seq: c.seq, tbl: c.tbl, op: 'D', pk: c.pk, row: null });
    }
  }
  return [...clears, ...changes];
}

/** An apply round trip's deadline (the guard's breaker has no timeout of its own for applies). */
export const APPLY_ROUND_TRIP_MS = 5_000;
/** Connections a proxy's applier keeps to the mirror at most (group commit shares them between sessions). */
export const APPLY_POOL_MAX = 64;
const APPLY_STATEMENT_TIMEOUT_MS = 10_000;
/** Past this many bytes an apply gets more time (deadlineMs). */
const LARGE_APPLY = 1 << 20;

function byteLength(bufs: Buffer[]): number {
  let n = 0;
  for (const b of bufs) n += b.length;
  return n;
}

export interface Run {
  tbl: string;
  op: 'U' | 'D' | 'T';
  items: RowText[];
}

/** JSON text, or its UTF-8 bytes (a large drained row: drain-statement.ts). */
type RowText = string | Buffer;

/** About how many bytes of rows one statement of an apply takes; more go to the next statement of the same transaction. */
const STATEMENT_BYTES = 16 << 20;

/**
 * `items` in slices of about STATEMENT_BYTES each (at least one item each).
 * Sessions committing together each with a large row made one parameter of
 * them all, past PostgreSQL's 1 GB a message and V8's 512 MB a string (eight
 * 50 MB bytea rows: 800 MB); they failed together, then applied one by one. The
 * slices run in order, and a run holds each key once, so the result is the same.
 */
function bySize(items: RowText[]): RowText[][] {
  let total = 0;
  for (const it of items) total += it.length;
  if (total <= STATEMENT_BYTES) return [items];
  const out: RowText[][] = [];
  let cur: RowText[] = [];
  let size = 0;
  for (const it of items) {
    if (cur.length && size + it.length > STATEMENT_BYTES) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(it);
    size += it.length;
  }
  out.push(cur);
  return out;
}

/**
 * The runs of several independent change lists, merged: a list's run joins an
 * existing run of the same table and kind that comes after the list's previous
 * run (so each list keeps its own order), else starts a new one. Sixteen
 * sessions' "update accounts, insert history" become two statements, not 32.
 * Should two lists ever hold the same key after all, the upsert refuses to
 * touch a row twice, and group commit applies each list alone.
 */
export function mergedRuns(lists: Change[][]): Run[] {
  if (lists.length === 1) return runs(lists[0]!);
  const out: Run[] = [];
  const where = new Map<string, number[]>();
  for (const list of lists) {
    let after = -1;
    for (const r of runs(list)) {
      const kind = r.op + r.tbl;
      let at = r.op === 'T' ? undefined : where.get(kind)?.find((i) => i > after);
      if (at === undefined) {
        at = out.length;
        out.push({ tbl: r.tbl, op: r.op, items: [...r.items] });
        const seen = where.get(kind);
        if (seen) seen.push(at);
        else where.set(kind, [at]);
      } else out[at]!.items.push(...r.items);
      after = at;
    }
  }
  return out;
}

/** Consecutive changes of one table and one kind, the last image per key kept. */
function runs(changes: Change[]): Run[] {
  const out: Run[] = [];
  let cur: (Run & { byKey: Map<string, number> }) | null = null;
  for (const c of changes) {
    if (c.op === 'R') continue; // re-sync markers are for the drainer
    if (!cur || cur.tbl !== c.tbl || cur.op !== c.op || c.op === 'T') {
      cur = { tbl: c.tbl, op: c.op, items: [], byKey: new Map() };
      out.push(cur);
    }
    if (c.op === 'T') continue;
    const item = c.op === 'U' ? c.row! : c.pk;
    const at = cur.byKey.get(c.pk);
    if (at === undefined) {
      cur.byKey.set(c.pk, cur.items.length);
      cur.items.push(item);
    } else cur.items[at] = item;
  }
  return out;
}
