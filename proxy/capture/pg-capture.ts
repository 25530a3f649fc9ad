// Change capture on a PostgreSQL source of truth: a change table and,
// per replicated table, statement-level AFTER triggers with transition tables
// (set-based: one INSERT … SELECT per statement, not one per row) that record
// the key and the full new row of every change, tagged with the transaction.
// Cascades, trigger side effects and writes that bypass the proxy are seen too.
import type pg from 'pg';
import { STABLE_TEXT_SETTINGS, UTC_ZONES } from '../../common/pg-config.ts';
import { DRAIN_LIMIT, type CaptureDialect } from './dialect.ts';
import { LEDGER_SCHEMA } from '../mirror/ledger.ts';
import { inDdlTransaction } from './ddl-locks.ts';

export const SCHEMA = 'cutover';

/** `col` names a schema of the application's: not a catalog, not Cutover's own (capture here, the ledger on a mirror). */
export const isUserSchema = (col: string) =>
  `${col} NOT IN ('pg_catalog', 'information_schema', '${SCHEMA}', '${LEDGER_SCHEMA}') AND ${col} NOT LIKE 'pg_toast%' AND ${col} NOT LIKE 'pg_temp%'`;

export interface TableInfo {
  schema: string;
  name: string;
  /** Primary-key columns, in key order. */
  key: string[];
}

export class CaptureError extends Error {}

const q = (id: string) => '"' + id.replace(/"/g, '""') + '"';
export const qualified = (t: { schema: string; name: string }) => `${q(t.schema)}.${q(t.name)}`;
const lit = (s: string) => "'" + s.replace(/'/g, "''") + "'";

/** User tables outside the system schemas and our own, with their primary keys. */
export async function listTables(db: pg.ClientBase): Promise<(TableInfo & { hasKey: boolean })[]> {
  const r = await db.query<{ schema: string; name: string; key: string[] | null }>(`
    SELECT n.nspname AS schema, c.relname AS name,
           (SELECT array_agg(a.attname::text ORDER BY k.ord)
              FROM pg_index i
              CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE i.indrelid = c.oid AND i.indisprimary) AS key
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND ${isUserSchema('n.nspname')}
     ORDER BY 1, 2`);
  return r.rows.map((t) => ({ schema: t.schema, name: t.name, key: t.key ?? [], hasKey: Boolean(t.key?.length) }));
}

/**
 * Settings the captured row text depends on, fixed for the trigger's own run
 * (the client's session keeps its own): with a client's extra_float_digits = 0
 * to_json wrote 0.3 for 0.30000000000000004, and with intervalstyle =
 * sql_standard an interval the mirror, reading it in the postgres style, took
 * with the wrong sign.
 *
 * Set only when the session's differ, and put back after: a SET clause on the
 * function did it at every call, for settings nearly every session already
 * has: 3–15 µs of each captured statement's 85–145 here (2000 one-row UPDATEs
 * on the source, interleaved runs). set_config(…, true)
 * lasts to the end of the transaction, so the values are restored the same
 * way; if the statement fails, the (sub)transaction's abort undoes them.
 * `serverVersion`: server_version_num. From PostgreSQL 12 every
 * extra_float_digits above 0 prints floats exactly (shortest round-trip).
 */
type StableText = { declare: string; enter: string; leave: string };

function stableText(serverVersion: number): StableText {
  const cur = (k: string) => `current_setting(${lit(k)})`;
  const settled = [
    serverVersion >= 120000 ? `${cur('extra_float_digits')}::int > 0` : `${cur('extra_float_digits')} = ${lit(STABLE_TEXT_SETTINGS.extra_float_digits)}`,
    `${cur('intervalstyle')} = ${lit(STABLE_TEXT_SETTINGS.intervalstyle)}`,
    `${cur('bytea_output')} = ${lit(STABLE_TEXT_SETTINGS.bytea_output)}`,
    // the ISO output style whatever the field order (DMY/MDY rules input only)
    `${cur('datestyle')} LIKE ${lit(`${STABLE_TEXT_SETTINGS.datestyle}%`)}`,
    `${cur('TimeZone')} IN (${UTC_ZONES.map(lit).join(', ')})`,
  ].join(' AND ');
  const names = Object.keys(STABLE_TEXT_SETTINGS);
  const saved = 'cutover_saved_text_settings';
  return {
    declare: `DECLARE ${saved} text[];`,
    enter: `IF NOT (${settled}) THEN
        ${saved} := ARRAY[${names.map(cur).join(', ')}];
        PERFORM ${Object.entries(STABLE_TEXT_SETTINGS).map(([k, v]) => `set_config(${lit(k)}, ${lit(v)}, true)`).join(', ')};
      END IF;`,
    leave: `IF ${saved} IS NOT NULL THEN PERFORM ${names.map((k, i) => `set_config(${lit(k)}, ${saved}[${i + 1}], true)`).join(', ')}; END IF;`,
  };
}

/**
 * The key a captured row carries when its json, jsonb and array columns
 * (domains over them too) travel as JSON strings of their text output (`col::text`,
 * SQL NULL as JSON null). to_json wrote JSON null and SQL NULL alike, so a
 * jsonb 'null' (what ORMs write for None) reached the mirror as SQL NULL,
 * and it dropped an array's lower bounds ('[0:2]={7,8,9}' became '{7,8,9}').
 * The mirror reads such columns by their text only in rows with this key:
 * rows an older trigger captured, still waiting in the change table, lack it
 * (json_populate_record ignores it).
 */
export const TEXT_MARKER = 'cutover:text';

/**
 * The capture format this version installs, kept in the change schema's
 * comment. Triggers installed by an older version keep working, but without
 * what came since (8: change rows numbered without a sequence, so the session's lastval() stays the application's (SEQ_STRIDE); 7: xml as its stored text, declaration kept, and columns of a type with a cast to json, such as hstore, and composites as text; 6: new keys share-lock their key bucket (KEY_BUCKETS), so the
 * drainer's delete of a missing key cannot land after a session's insert of it, keys are
 * written in UTC, and change rows are stored uncompressed (large values much faster);
 * 5: text settings fixed only where a session's differ, faster writes; 4: json, jsonb and arrays as text, datestyle fixed; 3:
 * partitions, fixed text settings): `capture status` and the proxy say so
 * until `capture install` is run again.
 */
export const CAPTURE_VERSION = 8;
const VERSION_COMMENT = (v: number) => `cutover capture format ${v}`;

/** The capture format installed on `db` (null: installed before formats were recorded, or not at all). */
export async function installedCaptureVersion(db: pg.ClientBase): Promise<number | null> {
  const r = await db.query<{ c: string | null }>(`SELECT obj_description(to_regnamespace('${SCHEMA}'), 'pg_namespace') AS c`);
  const m = /^cutover capture format (\d+)$/.exec(r.rows[0]?.c ?? '');
  return m ? Number(m[1]) : null;
}

/**
 * Whether a column of type `typ` (an oid expression) travels as text. A domain
 * has its base type's output function, at every level of domain over domain.
 * xml too: to_json writes it by its output function, which rewrites the XML
 * declaration ('<?xml version="1.0"?><r/>' reached the mirror as '<r/>');
 * its text is what is stored. A type with a cast function to json (hstore) is
 * written by to_json() through that cast, as a JSON object its own input
 * function refuses on the mirror: it travels as text too (a domain over one:
 * to_json() looks at the base type). So does a composite: to_json() writes its
 * fields by the same rules, an hstore or an array's own bounds among them, as
 * a nested object.
 */
export const carriedAsText = (typ: string) =>
  `(SELECT t.typoutput IN ('pg_catalog.json_out'::regproc, 'pg_catalog.jsonb_out'::regproc, 'pg_catalog.array_out'::regproc, 'pg_catalog.record_out'::regproc, 'pg_catalog.xml_out'::regproc)
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_cast c WHERE c.castsource IN (t.oid, t.typbasetype) AND c.castmethod = 'f'
                      AND c.casttarget IN ('pg_catalog.json'::pg_catalog.regtype, 'pg_catalog.jsonb'::pg_catalog.regtype))
     FROM pg_catalog.pg_type t WHERE t.oid = ${typ})`;

/** SQL: whether relation `rel` (an oid expression) has a column carried as text. */
export const hasTextColumnsSql = (rel: string) =>
  `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a WHERE a.attrelid = ${rel} AND a.attnum > 0 AND NOT a.attisdropped AND ${carriedAsText('a.atttypid')})`;

/**
 * SQL giving the expression (text) that makes a row of relation `rel` (an oid
 * expression), aliased `alias` (a plain identifier), into its captured JSON:
 * plain to_json(alias.*) unless a column travels as text, else the row with
 * those columns cast to text and TEXT_MARKER added. Read from the catalog at
 * the moment it runs, never baked into a trigger: a column dropped while
 * mirroring (allowDdl) left in a trigger would fail every write to its table.
 * The drainer reads rows with the same expression (drainer.ts).
 */
export const rowJsonExprSql = (rel: string, alias: string) => `
  SELECT CASE WHEN bool_or(c.as_text)
    THEN format('(SELECT to_json(cutover_t.*) FROM (SELECT %s, true AS %I) cutover_t)',
                string_agg(CASE WHEN c.as_text THEN format('${alias}.%I::text AS %I', c.attname, c.attname) ELSE format('${alias}.%I', c.attname) END, ', ' ORDER BY c.attnum),
                ${lit(TEXT_MARKER)})
    ELSE 'to_json(${alias}.*)' END
    FROM (SELECT a.attname, a.attnum, ${carriedAsText('a.atttypid')} AS as_text
            FROM pg_catalog.pg_attribute a WHERE a.attrelid = ${rel} AND a.attnum > 0 AND NOT a.attisdropped) c`;

/**
 * The partitions of a partitioned table, every level. A statement names one
 * table and fires that table's statement triggers only: a write aimed at a
 * partition fired none of the parent's, and went unmirrored.
 */
async function partitionsOf(db: pg.ClientBase, t: TableInfo): Promise<{ schema: string; name: string }[]> {
  const r = await db.query<{ schema: string; name: string }>(`
    SELECT n.nspname AS schema, c.relname AS name FROM pg_partition_tree($1::regclass) p
      JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE p.level > 0 ORDER BY p.level, 1, 2`, [qualified(t)]);
  return r.rows;
}

/**
 * Key buckets per table for the lock that orders a new key against the
 * drainer (drainer.ts, lockMissing). A statement that makes new keys holds
 * its buckets shared to the end of its transaction; the drainer, before it
 * writes a key it found missing to the mirror as a delete, takes that key's
 * bucket exclusively without waiting (a held bucket puts the key back in the
 * queue), then reads the key again. A session that inserts the key afterwards
 * waits for the drainer's commit, which follows its mirror apply, so the
 * session's own row reaches the mirror last; one that inserted it before holds
 * the bucket until it ends. Without this, a read routed to the mirror could
 * miss a row its session had just committed for about a second, until the
 * drainer's re-check repaired it (invariant 3).
 * Buckets, not one lock per key: a bulk insert takes at most this many
 * advisory locks per table, not one per row (the lock table is sized by
 * max_locks_per_transaction: a million row locks would fail the application's
 * statement with "out of shared memory").
 */
export const KEY_BUCKETS = 16;
/** SQL: the advisory lock's first int4, for table `tbl` (text, as change rows name it). */
export const bucketTableSql = (tbl: string) => `hashtext('cutover:' || ${tbl})`;
/** SQL: the second, the bucket of key `pk` (its jsonb text: canonical, the same wherever the key is built). */
export const bucketOfSql = (pk: string) => `(hashtext(${pk}) & ${KEY_BUCKETS - 1})`;

/**
 * A change row's seq, made without a sequence: nextval() in the trigger made
 * the change table's sequence the session's last, so the application's own
 * `SELECT lastval()` right after an INSERT (PHP's PDO::lastInsertId() without
 * a sequence name, Doctrine DBAL's lastInsertId()) answered a change-row
 * number instead of the id it had just drawn (direct and through the proxy
 * alike, as soon as capture was installed).
 *
 * seq = txid × SEQ_STRIDE + the row's ordinal in its transaction (counted in
 * the setting ORDINAL_SETTING, which a rolled-back savepoint takes back with
 * its rows). Rows keep their transaction's order, which the relay applies them in;
 * only a transaction's first DRAIN_LIMIT + 1 rows are ever applied in that
 * order (a bigger one is re-synced key by key by the drainer), so the ordinal
 * stops at SEQ_STRIDE - 1 and seq is no longer unique (an index, not a
 * primary key). Across transactions seq follows txid, not commit order, as
 * nextval() did not either: the drainer re-reads each key's current row.
 * Below 2^53 while txid is below 2^39, so JavaScript numbers order it exactly.
 * Rows written by the proxy itself (dirty keys) take the default: their
 * transaction's last ordinal.
 */
export const SEQ_STRIDE = 16_384;
const ORDINAL = '\u0001';
const ORDINAL_VAR = 'cutover_ordinal';
const ORDINAL_ROWS = 'cutover_ordinal_rows';
/** Where a session's capture triggers count its transaction's change rows (the proxy's, not the client's). */
export const ORDINAL_SETTING = 'cutover.capture_ordinal';
// The count is kept as 'txid:count' at session level: a transaction-local one was emptied by a RESET ALL
// between two writes, which then numbered its rows from 0 again, before the earlier ones, and the new
// database took an UPDATE before the INSERT it followed (v 2 there, 3 on the source). Another
// transaction's count, or none at all (NULL: the session's first write), means no row yet. An empty one
// (a RESET ALL or DISCARD ALL since) is read from the transaction's own change rows, leaving out the
// proxy's (SEQ_DEFAULT), by the txid index only, as the drain does: under SERIALIZABLE a sequential scan
// would read other transactions' rows. A rolled-back (sub)transaction takes its count back with its
// rows, as for any SET.
const ORDINAL_FROM = 'cutover_ordinal_from';
const ORDINAL_AT = 'cutover_ordinal_at';
const ORDINAL_DECLARE = `${ORDINAL_VAR} bigint; ${ORDINAL_FROM} bigint; ${ORDINAL_ROWS} bigint; ${ORDINAL_AT} text;`;
const ORDINAL_PROBE = `SELECT coalesce(max(seq) FILTER (WHERE seq < $1 * ${SEQ_STRIDE} + ${SEQ_STRIDE - 1}) - $1 * ${SEQ_STRIDE}, 0) FROM ${SCHEMA}.changes WHERE txid = $1`;
const ORDINAL_START = `${ORDINAL_AT} := current_setting(${lit(ORDINAL_SETTING)}, true);
      IF ${ORDINAL_AT} LIKE txid_current() || ':%' THEN ${ORDINAL_VAR} := split_part(${ORDINAL_AT}, ':', 2)::bigint;
      ELSIF ${ORDINAL_AT} = '' THEN
        ${ORDINAL_AT} := current_setting('enable_seqscan');
        PERFORM set_config('enable_seqscan', 'off', true);
        EXECUTE ${lit(ORDINAL_PROBE)} INTO ${ORDINAL_VAR} USING txid_current();
        PERFORM set_config('enable_seqscan', ${ORDINAL_AT}, true);
      ELSE ${ORDINAL_VAR} := 0;
      END IF;
      ${ORDINAL_FROM} := ${ORDINAL_VAR};`;
const ORDINAL_SAVE = `IF ${ORDINAL_VAR} > ${ORDINAL_FROM} THEN PERFORM set_config(${lit(ORDINAL_SETTING)}, txid_current() || ':' || ${ORDINAL_VAR}, false); END IF;`;
/** SQL: the seq of a change row whose transaction counted `before` rows before this statement's. */
const seqSql = (before: string) => `txid_current() * ${SEQ_STRIDE} + least(${before} + row_number() OVER (), ${SEQ_STRIDE - 1})`;
const SEQ_DEFAULT = `txid_current() * ${SEQ_STRIDE} + ${SEQ_STRIDE - 1}`;

/** The capture triggers of a table, one function each: insert, update, delete, truncate. */
const OPS = ['ins', 'upd', 'del', 'trunc'] as const;

/**
 * Capture triggers on `t`, or on its partition `on`: change rows name the
 * captured table either way (the new database has that table, not its
 * partitions). A partition's TRUNCATE empties only its own rows: they are
 * recorded as deletes before it runs, instead of a truncate of the table.
 */
function triggerSql(t: TableInfo, textColumns: boolean, text: StableText, on?: { schema: string; name: string }): string {
  const at = on ?? t;
  // each INSERT into the change table numbers its rows on from the transaction's count (ORDINAL_START),
  // then adds them to it; `sql` holds ${ORDINAL} where its first row's ordinal goes (a variable, or $1 under EXECUTE)
  const counted = (sql: string, dynamic = false) => `${dynamic ? `EXECUTE ${sql.replaceAll(ORDINAL, '$1')} USING ${ORDINAL_VAR};` : `${sql.replaceAll(ORDINAL, ORDINAL_VAR)};`}
          GET DIAGNOSTICS ${ORDINAL_ROWS} = ROW_COUNT;
          ${ORDINAL_VAR} := ${ORDINAL_VAR} + ${ORDINAL_ROWS};`;
  const fn = (op: string) => `${q(SCHEMA)}.${q(`cap_${at.schema}_${at.name}_${op}`.slice(0, 63))}`;
  const tag = lit(qualified(t));
  const keyOf = (alias: string) => `jsonb_build_object(${t.key.map((k) => `${lit(k)}, ${alias}.${q(k)}`).join(', ')})`;
  // aliases no user column is likely to share (a column named like one still loses to alias.* for the row)
  // `=`, not IS NOT DISTINCT FROM: primary-key columns hold no NULL, and only `=` lets the planner hash the
  // anti-join; the other made it a nested loop over two unindexed transition tables, quadratic in the rows
  // one UPDATE changes (20 000 rows: 4.7 s, each row lock held that long)
  const sameKey = t.key.map((k) => `cutover_n.${q(k)} = cutover_o.${q(k)}`).join(' AND ');
  const upsertRows = (row: string) => `INSERT INTO ${SCHEMA}.changes (seq, tbl, op, pk, row) SELECT ${seqSql(ORDINAL)}, ${tag}, 'U', ${keyOf('cutover_n')}, ${row} FROM new_rows cutover_n`;
  const deleteRows = (from: string) => counted(`INSERT INTO ${SCHEMA}.changes (seq, tbl, op, pk) SELECT ${seqSql(ORDINAL)}, ${tag}, 'D', ${keyOf('cutover_o')} FROM ${from}`);
  // the buckets of keys that did not exist before this statement (an UPDATE's unchanged keys did)
  const lockNewKeys = (where: string) =>
    `PERFORM pg_advisory_xact_lock_shared(${bucketTableSql(tag)}, cutover_b.b) FROM (SELECT DISTINCT ${bucketOfSql(`${keyOf('cutover_n')}::text`)} AS b FROM new_rows cutover_n ${where}) cutover_b;`;
  // tables without json or array columns keep one static statement (the pgbench-style hot path); the
  // others build the row at run time (EXECUTE sees the transition tables), from the columns they have then
  const [before, after] = upsertRows('\0').split('\0');
  const newRows = textColumns
    ? counted(`${lit(before!)} || (${rowJsonExprSql('TG_RELID', 'cutover_n')}) || ${lit(after!)}`, true)
    : counted(upsertRows('to_json(cutover_n.*)'));
  const body: Record<(typeof OPS)[number], string> = {
    ins: `${lockNewKeys('')}
          ${newRows}`,
    // a key that changed leaves its old key behind: delete that first
    upd: `${deleteRows(`old_rows cutover_o WHERE NOT EXISTS (SELECT 1 FROM new_rows cutover_n WHERE ${sameKey})`)}
          ${lockNewKeys(`WHERE NOT EXISTS (SELECT 1 FROM old_rows cutover_o WHERE ${sameKey})`)}
          ${newRows}`,
    del: deleteRows('old_rows cutover_o'),
    trunc: on
      ? deleteRows(`${qualified(on)} cutover_o`)
      : counted(`INSERT INTO ${SCHEMA}.changes (seq, tbl, op, pk) SELECT ${seqSql(ORDINAL)}, ${tag}, 'T', '{}'`),
  };
  const tbl = qualified(at);
  const trig = (op: string) => q(`cutover_capture_${op}`);
  return `
    ${OPS.map((op) => `CREATE OR REPLACE FUNCTION ${fn(op)}() RETURNS trigger LANGUAGE plpgsql AS $f$ ${text.declare} ${ORDINAL_DECLARE} BEGIN ${ORDINAL_START} ${text.enter} ${body[op]} ${ORDINAL_SAVE} ${text.leave} RETURN NULL; END $f$;`).join('\n    ')}
    ${OPS.map((op) => `DROP TRIGGER IF EXISTS ${trig(op)} ON ${tbl};`).join('\n    ')}
    CREATE TRIGGER ${trig('ins')} AFTER INSERT ON ${tbl} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn('ins')}();
    CREATE TRIGGER ${trig('upd')} AFTER UPDATE ON ${tbl} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn('upd')}();
    CREATE TRIGGER ${trig('del')} AFTER DELETE ON ${tbl} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ${fn('del')}();
    CREATE TRIGGER ${trig('trunc')} ${on ? 'BEFORE' : 'AFTER'} TRUNCATE ON ${tbl} FOR EACH STATEMENT EXECUTE FUNCTION ${fn('trunc')}();
    ALTER TABLE ${tbl} ENABLE ALWAYS TRIGGER ${trig('ins')}, ENABLE ALWAYS TRIGGER ${trig('upd')}, ENABLE ALWAYS TRIGGER ${trig('del')}, ENABLE ALWAYS TRIGGER ${trig('trunc')};`;
}

/** What the proxy refuses as DDL while mirroring (relay.ts says the same for the statements it parses). */
export const DDL_REFUSED = 'schema changes are refused while a migration is mirroring writes';
export const DDL_HINT = 'set "allowDdl": true to let DDL through (apply it to the new database yourself)';
export const DDL_GUARD = 'cutover_refuse_ddl';

/**
 * DDL the proxy cannot see in the statement text (EXECUTE in a DO block or a
 * function) is refused on the source itself, at the end of the command, for
 * the proxy's sessions (which log in with cutover.proxied = on) unless the
 * proxy allows DDL: the schema would otherwise change on the source alone.
 * Temporary objects are the session's own; a materialized view's refresh and
 * REINDEX change no schema.
 */
const DDL_GUARD_SQL = `
  CREATE OR REPLACE FUNCTION ${SCHEMA}.refuse_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $f$
  BEGIN
    IF current_setting('cutover.proxied', true) = 'on' AND coalesce(current_setting('cutover.allow_ddl', true), '') <> 'on'
       AND EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c
                    WHERE (c.schema_name IS NULL OR c.schema_name NOT LIKE 'pg_temp%')
                      AND c.command_tag NOT IN ('REFRESH MATERIALIZED VIEW', 'REINDEX')) THEN
      RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = ${lit(DDL_REFUSED)}, HINT = ${lit(DDL_HINT)};
    END IF;
  END $f$;
  DROP EVENT TRIGGER IF EXISTS ${DDL_GUARD};
  CREATE EVENT TRIGGER ${DDL_GUARD} ON ddl_command_end EXECUTE FUNCTION ${SCHEMA}.refuse_ddl();`;

/**
 * Install (or refresh) capture on every table, or on `only`. Refuses, naming
 * them, when a table has no primary key. One transaction: all or nothing.
 */
export async function installCapture(db: pg.ClientBase, only?: string[], opts: { probe?: boolean; deadline?: number } = {}): Promise<TableInfo[]> {
  const all = await listTables(db);
  const tables = only?.length ? all.filter((t) => only.includes(t.name) || only.includes(`${t.schema}.${t.name}`)) : all;
  if (only?.length) {
    const missing = only.filter((n) => !all.some((t) => t.name === n || `${t.schema}.${t.name}` === n));
    if (missing.length) throw new CaptureError(`no such table: ${missing.join(', ')}`);
  }
  const keyless = tables.filter((t) => !t.hasKey);
  if (keyless.length) {
    throw new CaptureError(`tables without a primary key cannot be replicated: ${keyless.map((t) => `${t.schema}.${t.name}`).join(', ')}`);
  }
  await inDdlTransaction(db, opts.probe ? 'trying capture' : 'installing capture', async () => {
    // Every table first, then the change table: a writer holds its table from its statement's start
    // and wants the change table when its capture trigger fires. A refresh that took the change table
    // first (the ALTERs below) and then waited for a table made a cycle with any writer in between,
    // on every attempt while writes flowed. Tables captured before but not named now write change
    // rows too. LOCK TABLE takes a partitioned table's partitions with it.
    const locked = [...new Set([...tables.map(qualified), ...capturedTables(await captureTriggers(db))])];
    if (locked.length) await db.query(`LOCK TABLE ${locked.join(', ')} IN ACCESS EXCLUSIVE MODE`);
    // Logged (and made so on a table an older version created unlogged): rows waiting for the drainer,
    // writes beside the proxy and keys recorded dirty, must survive a crash of the source and a failover
    // to a standby. Unlogged, crash recovery emptied it. The cost is within the noise: 0.95 and 1.04 of
    // the TPS of pgbench -N with capture and a drain per transaction, directly on the source, in two runs
    // of bench/capture-logged.ts. Rows are json, not jsonb: jsonb rewrote a json column's text (key
    // order, duplicate keys, spaces) and a float's -0.
    // A row past the TOAST threshold is stored out of line but not compressed (EXTERNAL): it lives for
    // one transaction, and pglz spent 10 s or more on the 100 MB hex text of a 50 MB bytea of random
    // bytes in the capture trigger (direct writes paid it too), and more again to decompress it at the drain.
    await db.query(`
      CREATE SCHEMA IF NOT EXISTS ${SCHEMA};
      CREATE TABLE IF NOT EXISTS ${SCHEMA}.changes (
        seq bigserial PRIMARY KEY,
        txid bigint NOT NULL DEFAULT txid_current(),
        tbl text NOT NULL,
        op "char" NOT NULL,
        pk jsonb NOT NULL,
        row json
      );
      CREATE INDEX IF NOT EXISTS changes_txid ON ${SCHEMA}.changes (txid);
      ALTER TABLE ${SCHEMA}.changes SET LOGGED;
      ALTER TABLE ${SCHEMA}.changes ALTER COLUMN row TYPE json USING row::json;
      ALTER TABLE ${SCHEMA}.changes ALTER COLUMN row SET STORAGE EXTERNAL;
      ALTER TABLE ${SCHEMA}.changes ALTER COLUMN seq SET DEFAULT ${SEQ_DEFAULT};
      CREATE INDEX IF NOT EXISTS changes_seq ON ${SCHEMA}.changes (seq);
      ALTER TABLE ${SCHEMA}.changes DROP CONSTRAINT IF EXISTS changes_pkey;
      GRANT USAGE ON SCHEMA ${SCHEMA} TO PUBLIC;
      GRANT INSERT, SELECT, DELETE ON ${SCHEMA}.changes TO PUBLIC;
      GRANT USAGE ON SEQUENCE ${SCHEMA}.changes_seq_seq TO PUBLIC;
      COMMENT ON SCHEMA ${SCHEMA} IS ${lit(VERSION_COMMENT(CAPTURE_VERSION))};`);
    const text = stableText(Number((await db.query<{ v: string }>('SELECT current_setting($1) AS v', ['server_version_num'])).rows[0]!.v));
    const textColumns = async (rel: { schema: string; name: string }) =>
      Boolean((await db.query<{ exists: boolean }>(hasTextColumnsSql('$1::regclass'), [qualified(rel)])).rows[0]?.exists);
    for (const t of tables) {
      await db.query(triggerSql(t, await textColumns(t), text));
      for (const part of await partitionsOf(db, t)) await db.query(triggerSql(t, await textColumns(part), text, part));
    }
    // creating an event trigger needs a superuser: without one, capture is installed all the same
    await db.query('SAVEPOINT cutover_ddl_guard');
    await db.query(DDL_GUARD_SQL).then(
      () => db.query('RELEASE SAVEPOINT cutover_ddl_guard'),
      () => db.query('ROLLBACK TO SAVEPOINT cutover_ddl_guard'),
    );
    // a probe proves capture can be installed (privileges, keys, plpgsql) and leaves nothing behind
  }, { end: opts.probe ? 'ROLLBACK' : 'COMMIT', deadline: opts.deadline });
  return tables;
}

/** Cutover's capture triggers on `db`, each with its table's schema and name. */
async function captureTriggers(db: pg.ClientBase): Promise<{ schema: string; name: string; tgname: string }[]> {
  return (await db.query<{ schema: string; name: string; tgname: string }>(`
    SELECT n.nspname AS schema, c.relname AS name, t.tgname
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE t.tgname LIKE 'cutover_capture_%' AND NOT t.tgisinternal ORDER BY 1, 2, 3`)).rows;
}

/** The tables those triggers are on, each once, qualified and quoted. */
const capturedTables = (triggers: { schema: string; name: string }[]) => [...new Set(triggers.map(qualified))];

/** Drop these capture triggers. */
async function dropTriggers(db: pg.ClientBase, triggers: { schema: string; name: string; tgname: string }[]): Promise<void> {
  for (const t of triggers) await db.query(`DROP TRIGGER IF EXISTS ${q(t.tgname)} ON ${qualified(t)}`);
}

/** Remove every capture object: triggers, functions, change table. */
export async function removeCapture(db: pg.ClientBase): Promise<number> {
  const triggers = await captureTriggers(db);
  await inDdlTransaction(db, 'removing capture', async () => {
    await dropTriggers(db, triggers);
    await db.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  });
  return capturedTables(triggers).length;
}

/**
 * Remove capture from a database that stops being the source of truth, only
 * if nothing is left to mirror: the captured tables are locked first (so a
 * writer that bypassed the proxy finishes, or waits for us), then the change
 * table must be empty. Returns the change rows still waiting (0: removed).
 */
export async function retireCapture(db: pg.ClientBase, lockTimeoutMs: number): Promise<number> {
  const has = await db.query(`SELECT to_regclass('${SCHEMA}.changes') IS NOT NULL AS ok`);
  if (!has.rows[0].ok) return 0;
  const tables = capturedTables(await captureTriggers(db));
  await db.query('BEGIN');
  try {
    await db.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
    const locked = [...tables, `${SCHEMA}.changes`];
    await db.query(`LOCK TABLE ${locked.join(', ')} IN ACCESS EXCLUSIVE MODE`);
    const left = Number((await db.query(`SELECT count(*) AS n FROM ${SCHEMA}.changes`)).rows[0].n);
    if (left > 0) {
      await db.query('ROLLBACK');
      return left;
    }
    await dropTriggers(db, await captureTriggers(db));
    await db.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await db.query('COMMIT');
    return 0;
  } catch (e) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

export interface CaptureStatus {
  installed: boolean;
  /** DDL inside functions and DO blocks is refused too (an event trigger: superuser only). */
  ddlGuard?: boolean;
  tables: { table: string; captured: boolean; hasKey: boolean }[];
  pending: number;
  /** The capture format installed (null: older than recorded formats), and this version's. */
  format?: { installed: number | null; current: number };
}

export async function captureStatus(db: pg.ClientBase): Promise<CaptureStatus> {
  const tables = await listTables(db);
  const captured = new Set((await captureTriggers(db)).map((t) => `${t.schema}.${t.name}`));
  const has = await db.query(`SELECT to_regclass('${SCHEMA}.changes') IS NOT NULL AS ok`);
  const installed = Boolean(has.rows[0].ok);
  const pending = installed ? Number((await db.query(`SELECT count(*) AS n FROM ${SCHEMA}.changes`)).rows[0].n) : 0;
  const guard = await db.query(`SELECT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = '${DDL_GUARD}') AS ok`);
  return {
    installed,
    ddlGuard: Boolean(guard.rows[0].ok),
    ...(installed ? { format: { installed: await installedCaptureVersion(db), current: CAPTURE_VERSION } } : {}),
    pending,
    tables: tables.map((t) => ({ table: `${t.schema}.${t.name}`, captured: captured.has(`${t.schema}.${t.name}`), hasKey: t.hasKey })),
  };
}

/**
 * The drain a session runs just before its COMMIT: its own transaction's
 * change rows, removed, at most DRAIN_LIMIT + 1 of them (picked by ctid, in
 * no order: the relay sorts by seq, and past the limit it applies none).
 */
export const DRAIN_SQL = `DELETE FROM ${SCHEMA}.changes WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${SCHEMA}.changes WHERE txid = txid_current_if_assigned() LIMIT ${DRAIN_LIMIT + 1}))
  RETURNING seq, tbl, op, pk::text, row::text, txid::text`;
const DRAIN_SQL_UTF8 = DRAIN_SQL.replace('RETURNING seq, tbl, op, pk::text, row::text, txid::text',
  "RETURNING seq, encode(convert_to(tbl, 'UTF8'), 'hex'), op, encode(convert_to(pk::text, 'UTF8'), 'hex'), encode(convert_to(row::text, 'UTF8'), 'hex'), txid::text");

/**
 * Under SERIALIZABLE the drain must read no other transaction's change rows.
 * On a small change table (it is emptied all the time) the planner deleted by
 * a sequential scan, which read the rows another transaction had just drained
 * and deleted: every two concurrent serializable writers, on rows that had
 * nothing in common, were a read/write cycle, and one failed 40001 (10 of 10
 * through the proxy, 0 directly). Without sequential scans, and with a plan
 * made for this execution (a prepared drain's generic plan would keep its
 * scan), it finds its rows by the txid index and their addresses only.
 * Other isolation levels keep the settings as they were.
 */
const SERIALIZABLE = `current_setting('transaction_isolation') = 'serializable'`;
const OWN_ROWS_ONLY = [['enable_seqscan', 'off'], ['plan_cache_mode', 'force_custom_plan']]
  .map(([name, value]) => `set_config('${name}', CASE WHEN ${SERIALIZABLE} THEN '${value}' ELSE current_setting('${name}') END, true)`)
  .join(' || ');
/** What a drain ahead changes for its own time and puts back after (text concatenation evaluates left to right). */
const DRAIN_SETTINGS = ['statement_timeout', 'enable_seqscan', 'plan_cache_mode'];
const keepSetting = (name: string) => `set_config('${SCHEMA}.${name}', current_setting('${name}'), true)`;
const restoreSetting = (name: string) => `set_config('${name}', current_setting('${SCHEMA}.${name}'), true)`;

export const pgCaptureDialect: CaptureDialect = {
  drainSql: DRAIN_SQL,
  drainSqlUtf8: DRAIN_SQL_UTF8,
  preparedDrain: true,
  // A timeout that fired inside the drain aborted a transaction PostgreSQL would have committed (40000 on COMMIT),
  // and an idle-in-transaction timeout shorter than the mirror apply ended the session (FATAL 25P03) while the
  // source waited for it. Before a COMMIT the settings stay lifted: the COMMIT runs its deferred triggers without
  // the client's timeout. Mid-transaction they are put back from transaction-local copies under the proxy's own
  // prefix. SELECTs of no row, each one statement: they are prepared beside the drain, and no row of theirs is
  // taken for a change row.
  untimed: {
    commit: `SELECT WHERE (set_config('statement_timeout', '0', true) || set_config('idle_in_transaction_session_timeout', '0', true) || ${OWN_ROWS_ONLY}) IS NULL`,
    ahead: [
      `SELECT WHERE (${DRAIN_SETTINGS.map(keepSetting).join(' || ')} || set_config('statement_timeout', '0', true) || ${OWN_ROWS_ONLY}) IS NULL`,
      `SELECT WHERE (${DRAIN_SETTINGS.map(restoreSetting).join(' || ')}) IS NULL`,
    ],
  },
  drainLimit: DRAIN_LIMIT,
  dirtySql: (keys) =>
    `INSERT INTO ${SCHEMA}.changes (tbl, op, pk) SELECT x.tbl, CASE WHEN x.pk = '{}' THEN 'T' ELSE 'R' END, x.pk FROM jsonb_to_recordset(${dollarQuoted(jsonArray(keys.map((k) => `{"tbl":${JSON.stringify(k.tbl)},"pk":${k.pk}}`)))}::jsonb) AS x(tbl text, pk jsonb)`,
  dirtySqlAlone: (keys) => `BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE; ${pgCaptureDialect.dirtySql(keys)}; COMMIT`,
  // with the seq they were taken with: the transaction's later rows are numbered after them (SEQ_STRIDE)
  restoreSql: (changes) =>
    `INSERT INTO ${SCHEMA}.changes (seq, tbl, op, pk, row) SELECT x.seq, x.tbl, x.op, x.pk, x.row
       FROM json_array_elements(${dollarQuoted(jsonArray(changes.map((c) => `{"seq":${c.seq},"tbl":${JSON.stringify(c.tbl)},"op":${JSON.stringify(c.op)},"pk":${c.pk},"row":${c.row?.toString() ?? 'null'}}`)))}::json) WITH ORDINALITY AS e(v, n)
       CROSS JOIN LATERAL json_to_record(e.v) AS x(seq bigint, tbl text, op "char", pk jsonb, row json)
      ORDER BY e.n`,
};

// Keys and rows are the jsonb text the source produced, spliced in as they are: parsed into
// JavaScript numbers, a bigint key above 2^53 or an exact numeric would come back changed.
const jsonArray = (items: string[]) => '[' + items.join(',') + ']';

/** A dollar-quoted literal whose tag does not occur in the text. */
function dollarQuoted(text: string): string {
  let tag: string;
  do tag = '$cutover_' + Math.random().toString(36).slice(2, 8) + '$';
  while (text.includes(tag));
  return tag + text + tag;
}
