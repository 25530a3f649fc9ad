// The functions psql's describe queries call (pg_get_indexdef, format_type,
// pg_get_userbyid …) as SQLite functions on a session's connection, reading
// the schema the session's pg_catalog was last filled from (pg-catalog-views.ts):
// a function cannot query the connection that is running it.
//
// The regular-expression operators (~, ~*, !~, !~*) run JavaScript's RegExp
// (catalog-translate.ts). psql's patterns (`\d a*` is '^(a.*)$') mean the same
// there; POSIX ARE features JavaScript lacks — [[:alpha:]] classes, \m \M \y
// word boundaries, embedded options (?i) — are refused as an invalid
// expression (2201B), as are patterns that do not compile.
import type Database from 'better-sqlite3';
import { PgError } from './errors.ts';
import { DATABASE_OWNER_OID, type PgCatalog } from './pg-catalog-views.ts';
import { OWNER_OID } from './schema-model.ts';
import { OID, type SqlValue } from './types.ts';

const TYPE_NAMES: Record<number, string> = {
  [OID.bool]: 'boolean', [OID.bytea]: 'bytea', [OID.name]: 'name', [OID.int8]: 'bigint', [OID.int2]: 'smallint', [OID.int4]: 'integer',
  [OID.text]: 'text', [OID.oid]: 'oid', [OID.json]: 'json', [OID.float4]: 'real', [OID.float8]: 'double precision', [OID.unknown]: 'unknown',
  [OID.bpchar]: 'character', [OID.varchar]: 'character varying', [OID.date]: 'date', [OID.time]: 'time without time zone',
  [OID.timestamp]: 'timestamp without time zone', [OID.timestamptz]: 'timestamp with time zone', [OID.numeric]: 'numeric',
  [OID.uuid]: 'uuid', [OID.jsonb]: 'jsonb', 18: '"char"',
};

/** format_type(oid, typmod): PostgreSQL's display name, with a length or precision. */
export function formatType(oid: number, typmod: number | null): string {
  const name = TYPE_NAMES[oid];
  if (!name) return '???';
  if (typmod === null || typmod < 0) return name;
  if (oid === OID.varchar || oid === OID.bpchar) return `${name}(${typmod - 4})`;
  if (oid === OID.numeric) return `numeric(${((typmod - 4) >> 16) & 0xffff},${(typmod - 4) & 0xffff})`;
  return name;
}

/** A PostgreSQL array's text form ({a,b,"c d"}) as its elements; null for NULL. */
export function arrayElements(v: SqlValue): (string | null)[] | null {
  if (v === null) return null;
  const s = String(v).trim();
  if (!s.startsWith('{') || !s.endsWith('}')) throw new PgError('22P02', `malformed array literal: "${s}"`);
  const out: (string | null)[] = [];
  const body = s.slice(1, -1);
  if (!body) return out;
  for (const m of body.matchAll(/\s*(?:"((?:[^"\\]|\\.)*)"|([^,]*))\s*(?:,|$)/g)) {
    if (m.index === body.length) break;
    if (m[1] !== undefined) out.push(m[1].replace(/\\(.)/g, '$1'));
    else out.push(m[2]!.trim().toUpperCase() === 'NULL' ? null : m[2]!.trim());
  }
  return out;
}

/** Elements as an array's text form. */
export function arrayText(xs: (string | null)[]): string {
  return `{${xs.map((x) => (x === null ? 'NULL' : /^[^",{}\\\s]+$/.test(x) && x.toUpperCase() !== 'NULL' ? x : `"${x.replace(/(["\\])/g, '\\$1')}"`)).join(',')}}`;
}

const regexCache = new Map<string, RegExp>();

/** value ~ pattern (flags 'i' for ~*), as JavaScript reads the pattern. */
export function regexMatch(value: SqlValue, pattern: SqlValue, flags: string): number | null {
  if (value === null || pattern === null) return null;
  const key = `${flags}/${String(pattern)}`;
  let re = regexCache.get(key);
  if (!re) {
    const p = String(pattern);
    if (/\[\[:|\\[mMyY]|^\(\?[a-z]+\)/.test(p)) throw new PgError('2201B', `invalid regular expression: ${p} uses POSIX syntax the SQLite source does not support`);
    try {
      re = new RegExp(p, `s${flags}`);
    } catch (e) {
      throw new PgError('2201B', `invalid regular expression: ${(e as Error).message}`);
    }
    if (regexCache.size > 500) regexCache.clear();
    regexCache.set(key, re);
  }
  return re.test(String(value)) ? 1 : 0;
}

const num = (v: SqlValue): number => (v === null ? NaN : Number(v));

export function registerCatalogFunctions(db: Database.Database, catalog: PgCatalog, user: () => string): void {
  const schema = () => catalog.schema();
  const f = (name: string, fn: (...args: SqlValue[]) => SqlValue) => db.function(name, { varargs: true, deterministic: false }, fn as (...a: unknown[]) => unknown);
  f('cutover_regex', (v, p, flags) => regexMatch(v, p, String(flags ?? '')));
  f('pg_get_userbyid', (oid) => (num(oid) === OWNER_OID ? user() : num(oid) === DATABASE_OWNER_OID ? 'pg_database_owner' : `unknown (OID=${String(oid)})`));
  for (const visible of ['pg_table_is_visible', 'pg_type_is_visible', 'pg_function_is_visible']) f(visible, (oid) => (oid === null ? null : 1));
  f('format_type', (oid, typmod) => (oid === null ? null : formatType(num(oid), typmod === null || typmod === undefined ? null : num(typmod))));
  // expressions are held as their text (adbin, indpred, conbin): pg_get_expr shows them as they are
  f('pg_get_expr', (expr) => expr);
  f('pg_get_indexdef', (oid, column) => {
    const i = schema().indexes.find((x) => x.oid === num(oid));
    if (!i) return null;
    const n = column === null || column === undefined ? 0 : num(column);
    if (n > 0) return i.keyTexts[n - 1] ?? null;
    const table = schema().relations.find((r) => r.oid === i.relid)?.name ?? '?';
    return `CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(i.name)} ON public.${quoteIdent(table)} USING btree (${i.keyTexts.join(', ')})${i.predicate ? ` WHERE (${i.predicate})` : ''}`;
  });
  f('pg_get_constraintdef', (oid) => schema().constraints.find((c) => c.oid === num(oid))?.def ?? null);
  f('pg_get_triggerdef', (oid) => schema().triggers.find((t) => t.oid === num(oid))?.def ?? null);
  f('pg_get_viewdef', (rel) => {
    const v = schema().relations.find((r) => (typeof rel === 'string' && !/^\d+$/.test(rel) ? r.name === rel : r.oid === num(rel)));
    return v?.viewdef ? ` ${v.viewdef}` : null;
  });
  f('pg_get_statisticsobjdef_columns', () => null);
  f('pg_get_ruledef', () => null);
  f('pg_relation_is_publishable', () => 0);
  // not partitioned: a relation's only ancestor is itself
  f('pg_partition_ancestors', (oid) => oid);
  for (const none of ['obj_description', 'col_description', 'shobj_description', 'pg_tablespace_location']) f(none, () => null);
  // sizes need a scan of the file (dbstat) that a function cannot run on its own connection: unknown
  for (const size of ['pg_table_size', 'pg_relation_size', 'pg_total_relation_size', 'pg_indexes_size', 'pg_database_size']) f(size, () => null);
  f('pg_size_pretty', (n) => (n === null ? null : prettySize(num(n))));
  f('pg_encoding_to_char', (n) => (num(n) === 6 ? 'UTF8' : ''));
  f('quote_ident', (s) => (s === null ? null : quoteIdent(String(s))));
  f('array_to_string', (arr, sep, nullText) => {
    const xs = arrayElements(arr);
    if (xs === null) return null;
    return xs.flatMap((x) => (x === null ? (nullText === null || nullText === undefined ? [] : [String(nullText)]) : [x])).join(String(sep ?? ''));
  });
  f('array_upper', (arr) => {
    const xs = arrayElements(arr);
    return xs && xs.length ? xs.length : null;
  });
  f('array_length', (arr) => {
    const xs = arrayElements(arr);
    return xs && xs.length ? xs.length : null;
  });
  f('cutover_array_at', (arr, i) => arrayElements(arr)?.[num(i) - 1] ?? null);
  f('cutover_array', (...xs) => arrayText(xs.map((x) => (x === null ? null : String(x)))));
  f('cutover_in_array', (v, arr) => {
    const xs = arrayElements(arr);
    if (xs === null || v === null) return null;
    return xs.some((x) => x !== null && x === String(v)) ? 1 : xs.includes(null) ? null : 0;
  });
  for (const yes of ['has_table_privilege', 'has_schema_privilege', 'has_database_privilege', 'has_column_privilege', 'pg_has_role']) f(yes, () => 1);
  db.aggregate('cutover_array_agg', {
    start: (): (string | null)[] => [],
    step: (acc: (string | null)[], v: SqlValue) => (acc.push(v === null ? null : typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string' ? String(v) : v.toString('hex')), acc),
    result: (acc: (string | null)[]) => arrayText(acc),
  });
  db.table('cutover_unnest', {
    columns: ['value'],
    parameters: ['arr'],
    rows: function* (arr: unknown) {
      for (const x of arrayElements(arr as SqlValue) ?? []) yield [x];
    } as (...args: unknown[]) => Generator<unknown[]>,
  });
}

const quoteIdent = (s: string): string => (/^[a-z_][a-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);

function prettySize(n: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 10 * 1024 - 0.5 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Math.round(v)} ${units[u]}`;
}
