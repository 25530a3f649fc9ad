// PostgreSQL → SQLite translation, construct by construct; and what is refused with 0A000.
import { beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { loadTranslator, translate, type SqlStatement } from '../../proxy/sqlite/translate.ts';
import { registerChecks } from '../../proxy/sqlite/checks.ts';

beforeAll(() => loadTranslator());

function one(pg: string): SqlStatement {
  const out = translate(pg);
  expect(out).toHaveLength(1);
  const st = out[0]!;
  if (st.kind === 'error') throw new Error(`refused: ${st.error.message}`);
  expect(st.kind).toBe('sql');
  return st as SqlStatement;
}
const sql = (pg: string): string => one(pg).sql;

function refused(pg: string): { code: string; message: string } {
  const st = translate(pg)[0]!;
  if (st.kind !== 'error') throw new Error(`not refused: ${pg}`);
  return { code: st.error.code, message: st.error.message };
}

/** Runs the translation on a scratch SQLite database with PostgreSQL's LIKE semantics and the checking functions. */
function value(pg: string, params: Record<string, unknown> = {}): unknown {
  const db = new Database(':memory:');
  db.pragma('case_sensitive_like = ON');
  registerChecks(db, (v) => v);
  const v = db.prepare(sql(pg)).pluck().get(params);
  db.close();
  return v;
}

describe('translate: what has a faithful SQLite equivalent', () => {
  it('$n parameters stay named $n, and casts on them type the parameter', () => {
    const st = one('SELECT $1::int8 + $2 AS s');
    // $2 may arrive as text: `* 1` lets SQLite make a number of it before the overflow-checking addition
    expect(st.sql).toBe('SELECT cutover_add($1, $2 * 1, 64) AS s');
    expect(st.params).toBe(2);
    expect(st.paramTypes.get(1)).toBe(20);
    expect(value('SELECT $1::int8 + $2 AS s', { 1: 40n, 2: 2n })).toBe(42);
  });

  it(':: casts become CAST with SQLite type names', () => {
    // a column to text follows its declared type, bound by the session as the parameter after the client's
    expect(sql("SELECT '12'::int, x::text, 1.5::float8, y::numeric(10,2), z::int, 'a'::text FROM t"))
      .toBe("SELECT CAST('12' AS INTEGER) AS int4, cutover_text(x, $1, 0) AS x, CAST(1.5 AS REAL) AS float8, CAST(cutover_numeric(y, 10, 2) AS NUMERIC) AS y, cutover_int(z, 32, 0) AS z, CAST('a' AS TEXT) AS text FROM t");
    expect(value("SELECT '12'::int + 1")).toBe(13);
    expect(value("SELECT 't'::boolean")).toBe(1);
    expect(value("SELECT '\\x00ff'::bytea")).toEqual(Buffer.from([0, 255]));
    expect(value("SELECT 'Infinity'::float8")).toBe(Infinity);
  });

  it('now() and CURRENT_TIMESTAMP are UTC text in one sortable form; LOCALTIMESTAMP and CURRENT_DATE the session\'s wall clock', () => {
    // the fraction without trailing zeros, as PostgreSQL prints it and as written timestamps are stored
    const frac = "rtrim(substr(strftime('%f', 'now'), 4), '0')";
    const ts = `strftime('%Y-%m-%d %H:%M:%S', 'now') || (CASE WHEN ${frac} = '' THEN '' ELSE '.' || ${frac} END)`;
    // the transaction's start, from the session (sqlite timestamps test); SQLite's clock in DDL and for statement_timestamp()
    // each result column named as PostgreSQL names it (ORDER BY a name means it: order-by-name test)
    expect(sql('SELECT now(), CURRENT_TIMESTAMP, transaction_timestamp()')).toBe('SELECT cutover_now() AS now, cutover_now() AS "current_timestamp", cutover_now() AS transaction_timestamp');
    // in the session's TimeZone (time-zone test)
    expect(sql('SELECT LOCALTIMESTAMP')).toBe('SELECT cutover_localnow() AS "localtimestamp"');
    expect(sql('SELECT statement_timestamp(), clock_timestamp()')).toBe(`SELECT ${ts} AS statement_timestamp, ${ts} AS clock_timestamp`);
    expect(sql('SELECT current_date')).toBe('SELECT cutover_today() AS "current_date"');
    expect(value('SELECT statement_timestamp()')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{0,2}[1-9])?$/);
    expect(one('SELECT now() AS a, current_date AS b').hints).toEqual([1184, 1082]);
  });

  it('LIKE stays case-sensitive with backslash escapes; ILIKE compares lower()', () => {
    expect(value("SELECT 'Abc' LIKE 'a%'")).toBe(0);
    expect(value("SELECT 'Abc' ILIKE 'a%'")).toBe(1);
    expect(value("SELECT 'a_c' LIKE 'a\\_c'")).toBe(1);
    expect(value("SELECT 'abc' LIKE 'a\\_c'")).toBe(0);
    expect(value("SELECT 'a%c' LIKE 'a#%c' ESCAPE '#'")).toBe(1);
    expect(value("SELECT 'Abc' NOT ILIKE 'x%'")).toBe(1);
  });

  it('true/false, IS [NOT] DISTINCT FROM, || and LIMIT/OFFSET', () => {
    expect(value('SELECT true')).toBe(1);
    expect(sql('SELECT a IS DISTINCT FROM b, a IS NOT DISTINCT FROM b FROM t')).toBe('SELECT a IS NOT b, a IS b FROM t');
    expect(value('SELECT NULL IS DISTINCT FROM 1')).toBe(1);
    expect(value('SELECT NULL IS NOT DISTINCT FROM NULL')).toBe(1);
    expect(value("SELECT 'a' || 'b' || 'c'")).toBe('abc');
    expect(sql('SELECT x FROM t ORDER BY x LIMIT 5 OFFSET 10')).toBe('SELECT x FROM t ORDER BY x NULLS LAST LIMIT 5 OFFSET 10');
  });

  it('ORDER BY keeps PostgreSQL NULL ordering (last ascending, first descending)', () => {
    expect(sql('SELECT x FROM t ORDER BY x, y DESC')).toBe('SELECT x FROM t ORDER BY x NULLS LAST, y DESC NULLS FIRST');
  });

  it('RETURNING and ON CONFLICT pass through; = ANY (subquery) becomes IN', () => {
    expect(sql('INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT (a) DO UPDATE SET b = excluded.b RETURNING id'))
      .toBe('INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT (a) DO UPDATE SET b = excluded.b RETURNING id');
    expect(sql('INSERT INTO t (a) VALUES (1) ON CONFLICT DO NOTHING')).toBe('INSERT INTO t (a) VALUES (1) ON CONFLICT DO NOTHING');
    expect(sql('SELECT 1 FROM t WHERE a = ANY (SELECT b FROM u)')).toBe('SELECT 1 FROM t WHERE a IN (SELECT b FROM u)');
  });

  it('FOR UPDATE is dropped and marks the statement as taking the write lock; public. is dropped', () => {
    const st = one('SELECT * FROM public.t WHERE id = 1 FOR UPDATE');
    expect(st.sql).toBe('SELECT * FROM t WHERE id = 1');
    expect(st.locking).toBe(true);
  });

  it('functions: renamed, or answered per session', () => {
    expect(sql("SELECT substring(x, 1, 2), strpos(x, 'a'), char_length(x), string_agg(x, ','), btrim(x) FROM t"))
      .toBe(`SELECT substr(x, 1, 2) AS "substring", instr(x, 'a') AS strpos, length(x) AS char_length, group_concat(x, ',') AS string_agg, "trim"(x) AS btrim FROM t`);
    expect(value("SELECT btrim('  x  ') || substring('abc', 2, 1)")).toBe('xb');
    expect(sql('SELECT pg_catalog.version(), current_user, current_database()')).toBe('SELECT version() AS version, cutover_user() AS "current_user", current_database() AS current_database');
    const r = value('SELECT random()') as number;
    expect(r).toBeGreaterThanOrEqual(0);
    expect(r).toBeLessThan(1);
  });

  it('CREATE TABLE: serial primary keys become rowid aliases that never hand out an id twice, defaults get parentheses, bytea is BLOB', () => {
    expect(sql('CREATE TABLE t (id bigserial PRIMARY KEY, v text NOT NULL DEFAULT now(), b bytea, f double precision, ok boolean DEFAULT false)'))
      .toBe("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%S', 'now') || (CASE WHEN rtrim(substr(strftime('%f', 'now'), 4), '0') = '' THEN '' ELSE '.' || rtrim(substr(strftime('%f', 'now'), 4), '0') END)), b BLOB, f DOUBLE PRECISION, ok BOOLEAN DEFAULT (false))");
  });

  it('LIMIT ALL is no limit; INTERSECT ALL and EXCEPT ALL are refused as unsupported, not as syntax errors', () => {
    expect(sql('SELECT a FROM t LIMIT ALL')).toBe('SELECT a FROM t');
    // SQLite has no OFFSET without a LIMIT before it (a syntax error): -1 is none
    expect(sql('SELECT a FROM t LIMIT ALL OFFSET 2')).toBe('SELECT a FROM t LIMIT -1 OFFSET 2');
    expect(refused('SELECT a FROM t INTERSECT ALL SELECT a FROM u')).toMatchObject({ code: '0A000' });
  });

  it('ALTER TABLE … DROP COLUMN without the RESTRICT SQLite has no word for', () => {
    expect(sql('ALTER TABLE t DROP COLUMN v')).toBe('ALTER TABLE t DROP COLUMN v');
  });

  it('a table-level primary key of a serial column moves onto the column, AUTOINCREMENT beside it', () => {
    expect(sql('CREATE TABLE t (id serial, v text, PRIMARY KEY (id))')).toBe('CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT)');
  });

  it('string constants are printed without E-strings', () => {
    expect(sql("SELECT E'a\\\\b', 'it''s'")).toBe("SELECT 'a\\b', 'it''s'");
  });

  it('result names and types follow PostgreSQL', () => {
    const st = one('SELECT count(*), 1, x::int, a = b, lower(s) AS l FROM t');
    expect(st.names).toEqual(['count', '?column?', 'x', '?column?', 'l']);
    expect(st.hints).toEqual([20, 23, 23, 16, 25]);
  });

  it('transaction control, SET/SHOW are statements for the session, not SQL', () => {
    expect(translate('BEGIN; SAVEPOINT a; ROLLBACK TO SAVEPOINT a; RELEASE a; COMMIT').map((s) => (s.kind === 'txn' ? s.op : s.kind)))
      .toEqual(['begin', 'savepoint', 'rollback_to', 'release', 'commit']);
    expect(translate("SET application_name = 'x'")[0]).toMatchObject({ kind: 'set', name: 'application_name', value: 'x' });
    expect(translate('SHOW TimeZone')[0]).toMatchObject({ kind: 'show', name: 'timezone' });
  });
});

describe('translate: refused with 0A000, naming the construct', () => {
  const cases: [string, string][] = [
    ['SELECT DISTINCT ON (a) a FROM t', 'DISTINCT ON'],
    ['SELECT * FROM t WHERE id = ANY($1)', 'ANY (array)'],
    ["SELECT nextval('s')", 'nextval'],
    ['SELECT * FROM t, LATERAL (SELECT 1) x', 'LATERAL'],
    ['SELECT ARRAY[1, 2]', 'arrays'],
    ["SELECT 't'::regclass", 'regclass'],
    ["SELECT * FROM json_each('{}')", 'functions in FROM'],
    ["SELECT a FROM t WHERE a ~ 'x'", 'operator ~'],
    ['SELECT a COLLATE "de_DE" FROM t', 'COLLATE "de_DE"'],
    ['CREATE TABLE t (id serial, v int)', 'serial column'],
    ['LISTEN x', 'LISTEN'],
    ["COPY t FROM '/etc/passwd'", 'COPY to or from a file'],
    ['COPY t FROM STDIN (FORMAT binary)', 'binary'],
    ['SELECT * FROM other.t', 'schema "other"'],
    ["SELECT 'NaN'::float8", 'NaN'],
  ];
  for (const [pg, what] of cases) {
    it(pg, () => {
      const r = refused(pg);
      expect(r.code).toBe('0A000');
      expect(r.message).toContain(what);
    });
  }

  it('a syntax error is 42601', () => {
    expect(refused('SELEKT 1').code).toBe('42601');
  });
});
