// Change capture in an SQLite source file: the `_cutover_changes` table and,
// per replicated table, AFTER INSERT/UPDATE/DELETE row triggers recording the
// key and the full new row of every change. Triggers live in the file, so
// every writer fires them: the proxy's sessions, FK cascades, the
// application's own triggers, and other processes writing the file.
//
// Values travel as JSON *strings holding PostgreSQL's text form* of each value,
// computed in SQLite exactly as backfill's COPY text is (sqlite-copy-text.ts):
// integers as decimal text (64-bit exact), REAL through SQLite's round-trip
// formatting with ±Infinity spelled out (json_object would print 9.0e+999,
// which float8 refuses, and drops the sign of -0.0), BLOBs as '\x' || hex
// (json_object refuses blobs), 0/1 booleans as 't'/'f', timestamps as text.
// json_populate_recordset then runs each column's own input function on the
// string, as COPY does: the mirror holds what backfill would have copied.
// json/jsonb columns are embedded as JSON (a string would stay a string).
import type Database from 'better-sqlite3';
import { isInternalSqliteTable, sqliteSchema } from '../../backfill/schema/from-sqlite.ts';
import type { ColumnDef, TableDef } from '../../backfill/schema/model.ts';
import { CaptureError } from './pg-capture.ts';
import { DRAIN_LIMIT, type CaptureDialect } from './dialect.ts';
import { DRAIN_QUERY } from '../sqlite/capture-drain.ts';

export const CHANGES = '_cutover_changes';
const TRIGGER_PREFIX = '_cutover_capture_';

const qi = (id: string) => '"' + id.replace(/"/g, '""') + '"';
const ql = (s: string) => "'" + s.replace(/'/g, "''") + "'";

/** The change rows' table tag: the target table's qualified, quoted name (as the PostgreSQL capture writes it). */
export const targetTag = (name: string) => `${qi('public')}.${qi(name)}`;

/** SQL giving the PostgreSQL text form of column `c` of row `alias` (NEW, OLD, or a table alias), NULL for NULL. */
export function textForm(c: Pick<ColumnDef, 'name' | 'type'>, alias: string): string {
  const col = `${alias}.${qi(c.name)}`;
  const text = `CAST(${col} AS TEXT)`;
  let expr: string;
  if (c.type === 'double precision') {
    expr = `CASE WHEN typeof(${col}) <> 'real' THEN ${text} WHEN ${col} = 9e999 THEN 'Infinity' WHEN ${col} = -9e999 THEN '-Infinity' ELSE ${text} END`;
  } else if (c.type === 'boolean') {
    expr = `CASE WHEN typeof(${col}) IN ('integer', 'real') THEN (CASE WHEN ${col} THEN 't' ELSE 'f' END) ELSE ${text} END`;
  } else if (c.type === 'bytea') {
    expr = `'\\x' || hex(${col})`;
  } else if (c.type === 'json' || c.type === 'jsonb') {
    // valid JSON is embedded as JSON; anything else stays text (and the target will refuse it, as COPY would)
    expr = `CASE WHEN json_valid(${col}) THEN json(${col}) ELSE ${text} END`;
  } else {
    expr = text;
  }
  return `CASE WHEN ${col} IS NULL THEN NULL ELSE ${expr} END`;
}

const jsonOf = (cols: Pick<ColumnDef, 'name' | 'type'>[], alias: string) => `json_object(${cols.map((c) => `${ql(c.name)}, ${textForm(c, alias)}`).join(', ')})`;

export interface CapturedTable {
  name: string;
  /** Tag in the change rows (the target table). */
  tbl: string;
  key: ColumnDef[];
  columns: ColumnDef[];
  /** JSON text of the key / the full row of `alias`. */
  pkJson(alias: string): string;
  rowJson(alias: string): string;
}

export function capturedTable(t: TableDef): CapturedTable {
  const key = t.key.map((k) => t.columns.find((c) => c.name === k)!);
  return {
    name: t.name,
    tbl: targetTag(t.name),
    key,
    columns: t.columns,
    pkJson: (alias) => jsonOf(key, alias),
    rowJson: (alias) => jsonOf(t.columns, alias),
  };
}

/** The application's tables (not SQLite's nor ours, not virtual), as backfill maps them. */
export async function listSqliteTables(db: Database.Database): Promise<TableDef[]> {
  return (await sqliteSchema(db, undefined, false)).tables;
}

function triggerSql(t: CapturedTable): string[] {
  const tbl = qi(t.name);
  const tag = ql(t.tbl);
  const name = (op: string) => qi(`${TRIGGER_PREFIX}${t.name}_${op}`);
  const upsert = `INSERT INTO ${CHANGES} (tbl, op, pk, row) VALUES (${tag}, 'U', ${t.pkJson('NEW')}, ${t.rowJson('NEW')})`;
  const sameKey = t.key.map((k) => `OLD.${qi(k.name)} IS NEW.${qi(k.name)}`).join(' AND ');
  return [
    `DROP TRIGGER IF EXISTS ${name('ins')}`,
    `DROP TRIGGER IF EXISTS ${name('upd')}`,
    `DROP TRIGGER IF EXISTS ${name('del')}`,
    `CREATE TRIGGER ${name('ins')} AFTER INSERT ON ${tbl} BEGIN ${upsert}; END`,
    // a key that changed leaves its old key behind on the mirror: delete that first
    `CREATE TRIGGER ${name('upd')} AFTER UPDATE ON ${tbl} BEGIN
       INSERT INTO ${CHANGES} (tbl, op, pk) SELECT ${tag}, 'D', ${t.pkJson('OLD')} WHERE NOT (${sameKey});
       ${upsert};
     END`,
    `CREATE TRIGGER ${name('del')} AFTER DELETE ON ${tbl} BEGIN INSERT INTO ${CHANGES} (tbl, op, pk) VALUES (${tag}, 'D', ${t.pkJson('OLD')}); END`,
  ];
}

const CREATE_CHANGES = `CREATE TABLE IF NOT EXISTS ${CHANGES} (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  tbl TEXT NOT NULL,
  op TEXT NOT NULL,
  pk TEXT NOT NULL,
  row TEXT
)`;

/**
 * Install (or refresh: triggers follow the current columns) capture on every
 * table, or on `only`. Refuses, naming them, tables without a primary key.
 * One write transaction: all or nothing.
 */
export async function installSqliteCapture(db: Database.Database, only?: string[]): Promise<TableDef[]> {
  const all = await listSqliteTables(db);
  if (only?.length) {
    const missing = only.filter((n) => !all.some((t) => t.name === n || `public.${t.name}` === n));
    if (missing.length) throw new CaptureError(`no such table: ${missing.join(', ')}`);
  }
  const tables = only?.length ? all.filter((t) => only.includes(t.name) || only.includes(`public.${t.name}`)) : all;
  const keyless = tables.filter((t) => !t.key.length);
  if (keyless.length) throw new CaptureError(`tables without a primary key cannot be replicated: ${keyless.map((t) => t.name).join(', ')}`);
  db.transaction(() => {
    db.exec(CREATE_CHANGES);
    for (const t of tables) for (const s of triggerSql(capturedTable(t))) db.exec(s);
  }).immediate();
  return tables;
}

/** Drop every capture trigger and the change table; returns how many tables were captured. */
export function removeSqliteCapture(db: Database.Database): number {
  const triggers = capturedTriggers(db);
  db.transaction(() => dropCapture(db, triggers)).immediate();
  return new Set(triggers.map((t) => t.tbl_name)).size;
}

/**
 * Capture removed from a file that stops being the source of truth (promote),
 * only if nothing is left to mirror: in one write transaction, so a writer in
 * another process cannot add a change row between the count and the drop.
 * Returns the change rows still waiting (0: removed, or never installed).
 */
export function retireSqliteCapture(db: Database.Database): number {
  return db.transaction(() => {
    if (!sqliteCaptureInstalled(db)) return 0;
    const left = Number(db.prepare(`SELECT count(*) FROM ${CHANGES}`).pluck().get());
    if (left === 0) dropCapture(db, capturedTriggers(db));
    return left;
  }).immediate();
}

function dropCapture(db: Database.Database, triggers: { name: string }[]): void {
  for (const t of triggers) db.exec(`DROP TRIGGER IF EXISTS ${qi(t.name)}`);
  db.exec(`DROP TABLE IF EXISTS ${CHANGES}`);
}

function capturedTriggers(db: Database.Database): { name: string; tbl_name: string }[] {
  return db.prepare(`SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '${TRIGGER_PREFIX}%'`).all() as { name: string; tbl_name: string }[];
}

export function sqliteCaptureInstalled(db: Database.Database): boolean {
  return Boolean(db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '${CHANGES}'`).pluck().get());
}

export interface SqliteCaptureStatus {
  installed: boolean;
  tables: { table: string; captured: boolean; hasKey: boolean }[];
  /** Change rows waiting: written outside the proxy (another process) or keys to re-sync. */
  pending: number;
}

export async function sqliteCaptureStatus(db: Database.Database): Promise<SqliteCaptureStatus> {
  const tables = await listSqliteTables(db);
  const captured = new Set(capturedTriggers(db).map((t) => t.tbl_name));
  const installed = sqliteCaptureInstalled(db);
  const pending = installed ? Number(db.prepare(`SELECT count(*) FROM ${CHANGES}`).pluck().get()) : 0;
  return { installed, pending, tables: tables.map((t) => ({ table: t.name, captured: captured.has(t.name), hasKey: t.key.length > 0 })) };
}

export { isInternalSqliteTable };

/**
 * The proxy's side for an SQLite source. The drain is a proxy-internal query
 * the SQLite engine answers itself (sqlite/capture-drain.ts): the change rows
 * this session's write transaction made, i.e. those above the highest seq at
 * the moment it took the write lock (SQLite has one writer; rows already there
 * were written out of band and are the drainer's). Dirty keys go back into the
 * change table as 'R' rows, in the dialect the engine translates.
 */
export const sqliteCaptureDialect: CaptureDialect = {
  drainSql: DRAIN_QUERY,
  drainLimit: DRAIN_LIMIT,
  dirtySql: (keys) => `INSERT INTO ${CHANGES} (tbl, op, pk) VALUES ${keys.map((k) => `(${ql(k.tbl)}, 'R', ${ql(k.pk)})`).join(', ')}`,
};
