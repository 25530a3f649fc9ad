// Reads an SQLite file's tables into the target schema plan: PRAGMA
// table_xinfo / index_list / foreign_key_list for structure, PostgreSQL's
// parser for CHECK constraints and CREATE INDEX text (SQLite's DDL grammar is
// close to PostgreSQL's for these), and the type map in sqlite-types.ts.
import type Database from 'better-sqlite3';
import type { ColumnDef, ForeignKeyDef, SchemaPlan, TableDef, Unmapped } from './model.ts';
import { qi } from './model.ts';
import { checkName, foreignKeyName, uniqueName } from '../../common/constraint-names.ts';
import { mapSqliteType } from './sqlite-types.ts';
import { deparse, loadParser, parse, parseExpression, type Node } from './sql-ast.ts';

/** Tables Cutover itself keeps in a source file (capture) are not the application's. */
export const isInternalSqliteTable = (name: string) => name.startsWith('sqlite_') || name.startsWith('_cutover');

interface XInfo { cid: number; name: string; type: string; notnull: number; dflt_value: string | null; pk: number; hidden: number }
interface IndexList { seq: number; name: string; unique: number; origin: string; partial: number }
interface FkRow { id: number; seq: number; table: string; from: string; to: string | null; on_update: string; on_delete: string }


/** PRAGMA rows with plain numbers (the source handle reads integers as bigint). */
function rows_(db: Database.Database, sql: string): unknown[] {
  return db.prepare(sql).safeIntegers(false).all();
}

/**
 * `ddl: false` skips what only DDL needs (CHECK and index text, through the
 * PostgreSQL parser): the copy itself needs columns and keys, and the parser
 * is the biggest thing a backfill process would otherwise hold in memory.
 */
export async function sqliteSchema(db: Database.Database, only?: string[], ddl = true): Promise<SchemaPlan> {
  if (ddl) await loadParser();
  const unmapped: Unmapped[] = [];
  const tables: TableDef[] = [];
  const rows = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string; sql: string }[];
  for (const { name, sql } of rows) {
    if (isInternalSqliteTable(name)) continue;
    if (only?.length && !only.includes(name) && !only.includes(`public.${name}`)) continue;
    if (/^\s*CREATE\s+VIRTUAL/i.test(sql)) {
      unmapped.push({ table: name, what: 'virtual table', reason: 'virtual tables (FTS, R*Tree, …) have no PostgreSQL equivalent; not copied' });
      continue;
    }
    tables.push(readTable(db, name, sql, unmapped, ddl));
  }
  return { prelude: [], tables, postTables: [], unmapped };
}

function readTable(db: Database.Database, name: string, sql: string, unmapped: Unmapped[], ddl: boolean): TableDef {
  const info = rows_(db, `PRAGMA table_xinfo(${qi(name)})`) as XInfo[];
  const keyCols = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
  // INTEGER PRIMARY KEY (exactly that spelling) is the rowid: SQLite hands out its values
  const withoutRowid = /WITHOUT\s+ROWID\s*$/i.test(sql.trim());
  const rowidAlias = keyCols.length === 1 && keyCols[0]!.type.trim().toUpperCase() === 'INTEGER' && !withoutRowid;
  const columns: ColumnDef[] = info.map((c) => {
    const mapped = mapSqliteType(c.type);
    if (mapped.note) unmapped.push({ table: name, column: c.name, what: `type ${c.type || '(none)'}`, reason: mapped.note });
    const isKey = c.pk > 0;
    const col: ColumnDef = {
      name: c.name,
      type: mapped.type,
      sourceType: c.type,
      notNull: c.notnull === 1 || isKey,
      // a rowid table lets its (non-INTEGER) key hold NULL unless declared NOT NULL
      sourceNotNull: c.notnull === 1 || (isKey && (rowidAlias || withoutRowid)),
      default: null,
      identity: rowidAlias && isKey ? 'by default' : null,
      generated: null,
    };
    if (c.hidden === 2 || c.hidden === 3) {
      unmapped.push({ table: name, column: c.name, what: 'generated column', reason: 'created as a plain column holding the computed values' });
    }
    if (c.dflt_value !== null) {
      const d = ddl ? mapDefault(c.dflt_value, mapped.type) : { ok: true as const, sql: c.dflt_value };
      if (d.ok) col.default = d.sql;
      else unmapped.push({ table: name, column: c.name, what: `DEFAULT ${c.dflt_value}`, reason: d.reason });
    }
    return col;
  });
  if (!keyCols.length) unmapped.push({ table: name, what: 'primary key', reason: 'table has no primary key: it cannot be mirrored or copied in key order' });

  const uniques: TableDef['uniques'] = [];
  const indexes: TableDef['indexes'] = [];
  const indexSql = new Map((db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`).all(name) as { name: string; sql: string }[]).map((r) => [r.name, r.sql]));
  for (const ix of rows_(db, `PRAGMA index_list(${qi(name)})`) as IndexList[]) {
    if (ix.origin === 'pk') continue;
    const cols = (rows_(db, `PRAGMA index_info(${qi(ix.name)})`) as { seqno: number; cid: number; name: string | null }[]).sort((a, b) => a.seqno - b.seqno);
    if (ix.origin === 'u') {
      uniques.push({ name: uniqueName(name, cols.map((c) => c.name!)), columns: cols.map((c) => c.name!) });
      continue;
    }
    if (!ddl) continue;
    const text = indexSql.get(ix.name);
    const converted = text ? convertIndex(text) : null;
    if (converted) indexes.push({ name: ix.name, sql: converted });
    else unmapped.push({ table: name, what: `index ${ix.name}`, reason: 'its definition does not parse as PostgreSQL; not created' });
  }

  unmapped.push(...caseInsensitiveKeys(db, name));

  const foreignKeys: ForeignKeyDef[] = [];
  const fkRows = rows_(db, `PRAGMA foreign_key_list(${qi(name)})`) as FkRow[];
  for (const id of [...new Set(fkRows.map((r) => r.id))]) {
    const parts = fkRows.filter((r) => r.id === id).sort((a, b) => a.seq - b.seq);
    const parent = parts[0]!.table;
    let refColumns = parts.map((p) => p.to);
    if (refColumns.some((c) => c === null)) {
      // REFERENCES parent without columns means the parent's primary key
      const pk = (rows_(db, `PRAGMA table_info(${qi(parent)})`) as XInfo[]).filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
      refColumns = pk;
    }
    foreignKeys.push({
      name: foreignKeyName(name, parts.map((p) => p.from)),
      columns: parts.map((p) => p.from),
      refSchema: 'public',
      refTable: parent,
      refColumns: refColumns as string[],
      onDelete: parts[0]!.on_delete,
      onUpdate: parts[0]!.on_update,
    });
  }

  return { schema: 'public', name, columns, key: keyCols.map((c) => c.name), uniques, checks: ddl ? readChecks(name, sql, unmapped) : [], foreignKeys, indexes };
}

/** SQLite-only words in CREATE TABLE that PostgreSQL's grammar lacks, dropped before parsing. */
function pgParsableTableSql(sql: string): string {
  return sql
    .replace(/\bAUTOINCREMENT\b/gi, '')
    .replace(/\)\s*(WITHOUT\s+ROWID|STRICT)(\s*,\s*(WITHOUT\s+ROWID|STRICT))?\s*$/i, ')')
    .replace(/\bON\s+CONFLICT\s+(ROLLBACK|ABORT|FAIL|IGNORE|REPLACE)\b/gi, '')
    .replace(/`([^`]*)`/g, '"$1"')
    .replace(/\[([^\]]*)\]/g, '"$1"');
}

function readChecks(table: string, sql: string, unmapped: Unmapped[]): TableDef['checks'] {
  try {
    return tableChecks(table, sql).map((c) => ({ name: c.name, expr: deparse(c.expr) }));
  } catch (e) {
    if (/CHECK/i.test(sql)) unmapped.push({ table, what: 'CHECK constraints', reason: `the table definition does not parse as PostgreSQL (${(e as Error).message}); checks not created` });
    return [];
  }
}

/**
 * The CHECK constraints of an SQLite CREATE TABLE, parsed, each under the name
 * it has on the new database (its own, else checkName's). The SQLite source's
 * errors name a failed CHECK by the same walk. Throws when the text does not
 * parse as PostgreSQL.
 */
export function tableChecks(table: string, sql: string): { name: string; expr: Node }[] {
  const create = parse(pgParsableTableSql(sql))[0]?.CreateStmt;
  const checks: { name: string; expr: Node }[] = [];
  const take = (c: Node, column?: string) => {
    if (c?.contype !== 'CONSTR_CHECK') return;
    checks.push({ name: c.conname ?? checkName(table, column, checks.length), expr: c.raw_expr });
  };
  for (const el of create?.tableElts ?? []) {
    if (el.ColumnDef) for (const c of el.ColumnDef.constraints ?? []) take(c.Constraint, el.ColumnDef.colname);
    else if (el.Constraint) take(el.Constraint);
  }
  return checks;
}

function convertIndex(sql: string): string | null {
  try {
    const stmt = parse(sql.replace(/`([^`]*)`/g, '"$1"').replace(/\[([^\]]*)\]/g, '"$1"'))[0];
    if (!stmt?.IndexStmt) return null;
    stmt.IndexStmt.if_not_exists = true;
    stmt.IndexStmt.relation.schemaname = 'public';
    // SQLite's own collations do not exist on PostgreSQL (the index would not be created): caseInsensitiveKeys says so
    for (const p of stmt.IndexStmt.indexParams ?? []) {
      const names = (p.IndexElem?.collation ?? []).map((n: { String?: { sval?: string } }) => n.String?.sval?.toLowerCase());
      if (names.length === 1 && SQLITE_COLLATIONS.has(names[0])) delete p.IndexElem.collation;
    }
    return deparse(stmt);
  } catch {
    return null;
  }
}

type DefaultResult = { ok: true; sql: string } | { ok: false; reason: string };

/** SQLite column defaults that mean the same thing in PostgreSQL; the rest are reported. */
export function mapDefault(text: string, pgType: string): DefaultResult {
  const node = parseExpression(text);
  if (!node) return { ok: false, reason: 'not a PostgreSQL expression; default dropped' };
  const konst = node.A_Const ?? (node.A_Expr?.name?.[0]?.String?.sval === '-' && !node.A_Expr.lexpr ? node.A_Expr.rexpr?.A_Const : null);
  if (konst) {
    if (konst.isnull) return { ok: true, sql: 'NULL' };
    if (pgType === 'boolean' && konst.ival !== undefined) {
      const v = konst.ival.ival ?? 0;
      return v === 0 || v === 1 ? { ok: true, sql: v ? 'true' : 'false' } : { ok: false, reason: `${text} is not a boolean; default dropped` };
    }
    if (konst.boolval !== undefined && pgType !== 'boolean') return { ok: true, sql: konst.boolval.boolval ? '1' : '0' };
    return { ok: true, sql: deparse(node) };
  }
  const fn = node.SQLValueFunction?.op as string | undefined;
  if (fn) {
    // SQLite's CURRENT_* are UTC, as text 'YYYY-MM-DD HH:MM:SS' / 'YYYY-MM-DD' / 'HH:MM:SS'
    const fmt = { SVFOP_CURRENT_TIMESTAMP: 'YYYY-MM-DD HH24:MI:SS', SVFOP_CURRENT_DATE: 'YYYY-MM-DD', SVFOP_CURRENT_TIME: 'HH24:MI:SS' }[fn];
    if (!fmt) return { ok: false, reason: `${text} has no SQLite meaning to keep; default dropped` };
    const utc = `(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')`;
    if (pgType === 'timestamp') return { ok: true, sql: `date_trunc('second', ${utc})` };
    if (pgType === 'timestamptz') return { ok: true, sql: `date_trunc('second', CURRENT_TIMESTAMP)` };
    if (pgType === 'date') return { ok: true, sql: `${utc}::date` };
    return { ok: true, sql: `to_char(${utc}, '${fmt}')` };
  }
  return { ok: false, reason: 'only constants and CURRENT_TIMESTAMP/DATE/TIME defaults are carried over; default dropped' };
}

/**
 * Key and indexed columns under a collation other than BINARY (NOCASE, RTRIM):
 * the new database's text compares every byte, so 'a' and 'A' become two keys
 * there, two rows the file held as one clash after promote, and lookups
 * through its index find other rows. Not carried over: said, with what to do.
 */
const SQLITE_COLLATIONS = new Set(['nocase', 'rtrim', 'binary']);
const COLLATION_MEANS: Record<string, string> = { NOCASE: "'a' and 'A' are two values there", RTRIM: "'a' and 'a  ' are two values there" };

function caseInsensitiveKeys(db: Database.Database, table: string): Unmapped[] {
  const out = new Map<string, Unmapped>();
  for (const ix of rows_(db, `PRAGMA index_list(${qi(table)})`) as IndexList[]) {
    for (const c of rows_(db, `PRAGMA index_xinfo(${qi(ix.name)})`) as { key: number; name: string | null; coll: string }[]) {
      if (!c.key || !c.name || c.coll.toUpperCase() === 'BINARY' || out.has(c.name)) continue;
      const role = ix.origin === 'pk' ? 'primary key' : ix.unique ? `unique index ${ix.name}` : `index ${ix.name}`;
      const coll = c.coll.toUpperCase();
      const means = COLLATION_MEANS[coll] ?? 'values equal in the file may be two values there';
      const remedy = coll === 'NOCASE' ? `; if the application relies on it, add ${ix.origin === 'pk' || ix.unique ? 'a unique index' : 'an index'} on lower(${c.name}) there (and query with lower())` : '';
      out.set(c.name, { table, column: c.name, what: `COLLATE ${coll} (${role})`, reason: `not carried over: the new database compares these values byte for byte (${means})${remedy}` });
    }
  }
  return [...out.values()];
}
