// Data in an SQLite source that PostgreSQL will refuse: SQLite's type
// affinity lets 'abc' sit in an INTEGER column and NULL in a non-INTEGER
// primary key; foreign keys are not enforced unless the application turned
// them on. Each query runs in SQLite, over the whole table, once.
import { ONE_SPELLING, timestampText } from '../../common/timestamp-text.ts';
import { isUtf8 } from 'node:buffer';
import type Database from 'better-sqlite3';
import type { ColumnDef, TableDef } from '../schema/model.ts';
import { qi } from '../schema/model.ts';
import { eraTimestamp, typeClass } from '../verify/canonical.ts';
import { isUtf8File } from '../copy/sqlite-copy-text.ts';
import { SAMPLE_KEYS, type Finding } from './findings.ts';

/** SQL function, registered by sqliteValueFindings: whether a BLOB's bytes are valid UTF-8. */
const UTF8_FN = 'cutover_is_utf8';
/** SQL function, registered by sqliteValueFindings: 2 for a timestamp in the proxy's own spelling, 1 in another PostgreSQL reads, 0 for none. */
const TIMESTAMP_FN = 'cutover_timestamp_kind';

function timestampKind(v: unknown): number {
  if (typeof v !== 'string') return 0;
  if (ONE_SPELLING.test(v)) return 2;
  if (/^\s*[+-]?infinity\s*$/i.test(v)) return 1;
  // before the common era as PostgreSQL prints it ('0044-03-15 10:00:00 BC'), which the reverse mirror writes back
  if (/\sBC$/i.test(v)) return eraTimestamp(v.trim(), true) === null ? 0 : eraTimestamp(v, false) === v ? 2 : 1;
  return timestampText(v, true) !== null ? 1 : 0;
}

/** SQL function, registered by sqliteValueFindings: 1 for a date as PostgreSQL prints it that SQLite's date() cannot read. */
const DATE_FN = 'cutover_pg_date';

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * A date PostgreSQL prints and the proxy stores so (proxy/sqlite/date-input.ts),
 * which SQLite's date() does not read: one before the common era
 * ('0044-03-15 BC', leap years proleptic: 1 BC is one), past year 9999
 * ('10000-01-01'), or ±infinity. Within PostgreSQL's date range.
 */
function pgDate(v: unknown): number {
  if (typeof v !== 'string') return 0;
  if (v === 'infinity' || v === '-infinity') return 1;
  const m = /^(\d{4,})-(\d\d)-(\d\d)( BC)?$/.exec(v);
  if (!m) return 0;
  const [year, month, day, bc] = [Number(m[1]), Number(m[2]), Number(m[3]), !!m[4]];
  const y = bc ? 1 - year : year;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > DAYS[month - 1]! + (month === 2 && leap ? 1 : 0)) return 0;
  if (bc && (year > 4714 || (year === 4714 && (month < 11 || (month === 11 && day < 24))))) return 0;
  return !bc && year > 5874897 ? 0 : 1;
}

/**
 * True for text whose bytes are not UTF-8 (SQLite stores what it is given;
 * PostgreSQL refuses such text). Only text with a character outside ASCII
 * (GLOB, in SQLite's C code; a stray byte reads as U+FFFD) reaches the
 * JavaScript check. Only for a UTF-8 file: a UTF-16 one is decoded by SQLite
 * itself.
 */
const notUtf8 = (col: string) => `(typeof(${col}) = 'text' AND ${col} GLOB '*[^' || char(1) || '-' || char(127) || ']*' AND NOT ${UTF8_FN}(CAST(${col} AS BLOB)))`;

/** A WHERE condition true for values of column c that a column of `pgType` will not accept. */
export function misfitCondition(c: ColumnDef, pgType: string, utf8File = false): { cond: string; why: string } | null {
  const col = qi(c.name);
  const badText = utf8File ? ` OR ${notUtf8(col)}` : '';
  const varchar = /^(?:character varying|varchar)\((\d+)\)$/.exec(pgType);
  if (varchar) return { cond: `(typeof(${col}) = 'blob' OR length(${col}) > ${varchar[1]}${badText})`, why: `longer than ${pgType} allows, or not UTF-8 text` };
  switch (typeClass(pgType)) {
    case 'int': {
      const range = pgType === 'integer' ? ` OR ${col} NOT BETWEEN -2147483648 AND 2147483647` : pgType === 'smallint' ? ` OR ${col} NOT BETWEEN -32768 AND 32767` : '';
      return { cond: `(typeof(${col}) NOT IN ('integer', 'null')${range})`, why: `not an integer that fits ${pgType}` };
    }
    case 'float': return { cond: `typeof(${col}) IN ('text', 'blob')`, why: 'not a number' };
    case 'numeric': {
      const ps = numericScale(pgType);
      const range = ps ? ` OR abs(${col}) >= 1e${ps.precision - ps.scale}` : '';
      return { cond: `(typeof(${col}) IN ('text', 'blob')${range})`, why: ps ? `not a number, or too large for ${pgType}` : 'not a number' };
    }
    case 'bool': return { cond: `NOT (${col} IS NULL OR (typeof(${col}) = 'integer' AND ${col} IN (0, 1)) OR lower(${col}) IN ('t', 'f', 'true', 'false', 'y', 'n', 'yes', 'no', 'on', 'off', '1', '0'))`, why: 'not a boolean' };
    case 'date': return { cond: `(typeof(${col}) <> 'null' AND (typeof(${col}) <> 'text' OR ((date(${col}) IS NULL OR ${col} NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*' OR ${DATE_FN}(substr(${col}, 1, 10)) = 0) AND ${DATE_FN}(${col}) = 0)))`, why: 'not an ISO date' };
    case 'timestamp':
    case 'timestamptz': return { cond: `(typeof(${col}) <> 'null' AND (typeof(${col}) <> 'text' OR ${TIMESTAMP_FN}(${col}) = 0))`, why: 'not an ISO timestamp (numbers such as Unix times are refused too)' };
    case 'bytea': return null;
    default: return { cond: `(typeof(${col}) = 'blob' OR instr(${col}, char(0)) > 0${badText})`, why: 'binary data, a NUL character or bytes that are not UTF-8, which text cannot hold' };
  }
}

/**
 * Timestamps the SQLite source reads right but compares by their text in
 * another spelling than its own (common/timestamp-text.ts): '2024-01-05T10:00:00Z'
 * or '… 10:00:00.500000' beside the proxy's '… 10:00:00.5'. Valid ones only:
 * invalid ones are the misfit check's errors.
 */
function spellingCondition(c: ColumnDef, pgType: string): string | null {
  const cls = typeClass(pgType);
  if (cls !== 'timestamp' && cls !== 'timestamptz') return null;
  const col = qi(c.name);
  return `(typeof(${col}) = 'text' AND ${TIMESTAMP_FN}(${col}) = 1)`;
}

function numericScale(pgType: string): { precision: number; scale: number } | null {
  const m = /^numeric\((\d+),\s*(\d+)\)$/.exec(pgType);
  return m ? { precision: Number(m[1]), scale: Number(m[2]) } : null;
}

/**
 * Numbers with more decimals than a numeric(p,s) column keeps: PostgreSQL
 * rounds them without a word (1.005 becomes 1.01), so the copy would change
 * data. Decimals are counted in the text the copy sends (CAST AS TEXT).
 */
export function roundingCondition(c: ColumnDef, pgType: string): string | null {
  const ps = numericScale(pgType);
  if (!ps) return null;
  const text = `CAST(${qi(c.name)} AS TEXT)`;
  return `(typeof(${qi(c.name)}) = 'real' AND instr(${text}, '.') > 0 AND instr(lower(${text}), 'e') = 0 AND length(rtrim(substr(${text}, instr(${text}, '.') + 1), '0')) > ${ps.scale})`;
}

function sampleKeys(db: Database.Database, t: TableDef, where: string): { rows: number; keys: string[] } {
  const key = t.key.length ? t.key.map(qi).join(` || ', ' || `) : 'rowid';
  const rows = Number(db.prepare(`SELECT count(*) FROM ${qi(t.name)} WHERE ${where}`).pluck().get());
  if (!rows) return { rows, keys: [] };
  const keys = (db.prepare(`SELECT ${key} FROM ${qi(t.name)} WHERE ${where} LIMIT ${SAMPLE_KEYS}`).pluck().all() as unknown[]).map(String);
  return { rows, keys };
}

/** Type fit and NOT NULL, against the target's types where the table exists there, else the mapped ones. */
export function sqliteValueFindings(db: Database.Database, t: TableDef, targetTypes: Map<string, { type: string; notNull: boolean }> | null): Finding[] {
  const out: Finding[] = [];
  const utf8File = isUtf8File(db);
  db.function(TIMESTAMP_FN, { deterministic: true }, timestampKind);
  db.function(DATE_FN, { deterministic: true }, pgDate);
  if (utf8File) db.function(UTF8_FN, { deterministic: true }, (b: unknown) => (Buffer.isBuffer(b) && isUtf8(b) ? 1 : 0));
  for (const c of t.columns) {
    const target = targetTypes?.get(c.name);
    const pgType = target?.type ?? c.type;
    const misfit = misfitCondition(c, pgType, utf8File);
    if (misfit) {
      const { rows, keys } = sampleKeys(db, t, misfit.cond);
      if (rows) out.push({ severity: 'error', check: 'type', table: t.name, column: c.name, rows, keys, message: `${rows} value(s) ${misfit.why} (${c.sourceType || 'no declared type'} → ${pgType})` });
    }
    const rounding = roundingCondition(c, pgType);
    if (rounding) {
      const { rows, keys } = sampleKeys(db, t, rounding);
      if (rows) out.push({ severity: 'warning', check: 'type', table: t.name, column: c.name, rows, keys, message: `${rows} value(s) have more decimals than ${pgType} keeps: PostgreSQL rounds them (${c.sourceType || 'no declared type'} → ${pgType})` });
    }
    const spelling = spellingCondition(c, pgType);
    if (spelling) {
      const { rows, keys } = sampleKeys(db, t, spelling);
      if (rows) out.push({ severity: 'warning', check: 'type', table: t.name, column: c.name, rows, keys, message: `${rows} timestamp(s) not written as the proxy writes and compares them ('YYYY-MM-DD HH:MM:SS[.ffffff]', UTC, no 'T', zone or trailing zeros): through the proxy they are read right but compared as their text, so = and < with them can miss; rewrite them in that form, or mind the comparisons` });
    }
    const notNull = target?.notNull ?? c.notNull;
    if (notNull && !c.identity) {
      const { rows, keys } = sampleKeys(db, t, `${qi(c.name)} IS NULL`);
      if (rows) out.push({ severity: 'error', check: 'not-null', table: t.name, column: c.name, rows, keys, message: `${rows} NULL value(s) under NOT NULL` });
    }
  }
  return out;
}

/** Rows whose parent is missing (PRAGMA foreign_key_check), by table and foreign key. */
export function sqliteOrphans(db: Database.Database, tables: TableDef[]): Finding[] {
  const out: Finding[] = [];
  const rows = db.prepare('PRAGMA foreign_key_check').safeIntegers(false).all() as { table: string; rowid: number | null; parent: string; fkid: number }[];
  const groups = new Map<string, typeof rows>();
  for (const r of rows) groups.set(`${r.table}\0${r.parent}\0${r.fkid}`, [...(groups.get(`${r.table}\0${r.parent}\0${r.fkid}`) ?? []), r]);
  for (const [, g] of groups) {
    const first = g[0]!;
    const t = tables.find((x) => x.name === first.table);
    const fk = t?.foreignKeys[first.fkid]; // foreign_key_list ids, in order
    const keyExpr = t?.key.length ? t.key.map(qi).join(` || ', ' || `) : 'rowid';
    const keys = g.slice(0, SAMPLE_KEYS).map((r) => (r.rowid === null ? '(no rowid)' : String(db.prepare(`SELECT ${keyExpr} FROM ${qi(first.table)} WHERE rowid = ?`).pluck().get(r.rowid))));
    out.push({
      severity: 'error', check: 'foreign-key', table: first.table, column: fk?.columns.join(', '), rows: g.length, keys,
      message: `${g.length} row(s) reference a missing ${first.parent} row (SQLite does not enforce foreign keys unless asked to; the target will)`,
    });
  }
  return out;
}
