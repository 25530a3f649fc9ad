// Text written into a REAL / FLOAT4 column on an SQLite source is read as
// PostgreSQL's float8in/float4in read it: '1e400' is 22003 (SQLite kept it as
// Infinity), and 'NaN', which SQLite would store as NULL, is refused with
// 0A000 rather than silently changed. Compared statement by statement with
// PostgreSQL; the new database ends up with the same rows as both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { comparedPair, RAW_TEXT, resultsOrError, type ComparedPair } from './mirror-harness.ts';

let pair: ComparedPair;

async function outcome(c: pg.Client, text: string, params?: unknown[]): Promise<unknown> {
  const r = await resultsOrError(c, text, params);
  return Array.isArray(r) ? [r[0]!.command, r[0]!.rowCount, r[0]!.rows] : { code: r.code };
}

beforeAll(async () => {
  pair = await comparedPair('sqlite_float_input', 'CREATE TABLE t (id INTEGER PRIMARY KEY, n REAL, f FLOAT4)', ['CREATE TABLE t (id bigint PRIMARY KEY, n double precision, f real)']);
});
afterAll(() => pair?.close());

const SAME: [string, unknown[]?][] = [
  ["INSERT INTO t VALUES (1, 'abc', 1)"],
  ["INSERT INTO t VALUES (3, ' 1.5 ', '2')"],
  ["INSERT INTO t VALUES (4, 'Infinity', '-inf')"],
  ['INSERT INTO t VALUES ($1, $2, $3)', [5, 'xyz', 1]],
  ['INSERT INTO t VALUES ($1, $2, $3)', [6, '2.5', '1e3']],
  ["UPDATE t SET n = '1e400' WHERE id = 3"],
  ['UPDATE t SET n = $1 WHERE id = 3', ['-1e400']],
  ["UPDATE t SET f = '1e39' WHERE id = 6"],
  ["UPDATE t SET n = 'x1' WHERE id = 3"],
  ['SELECT id, n, f FROM t ORDER BY id'],
  // printed with an exponent exactly where PostgreSQL's float8out/float4out use one
  ['INSERT INTO t VALUES ($1, $2, $3)', [7, '0.00001', '1234567']],
  ['INSERT INTO t VALUES ($1, $2, $3)', [8, '1e15', '123456']],
  ['INSERT INTO t VALUES ($1, $2, $3)', [9, '0.0001', '0.00001']],
  ['INSERT INTO t VALUES ($1, $2, $3)', [10, '123456789012345678', '1e-7']],
  ['SELECT id, n, f FROM t WHERE id >= 7 ORDER BY id'],
  ['SELECT id, n::text, f::text FROM t WHERE id >= 7 ORDER BY id'],
];

describe('SQLite source: text into float columns', () => {
  it('answers as PostgreSQL does', async () => {
    for (const [text, params] of SAME) expect(await outcome(pair.proxy, text, params), text).toEqual(await outcome(pair.ref, text, params));
  });

  it("refuses NaN with 0A000, literal or parameter, where SQLite would store NULL", async () => {
    expect(await outcome(pair.proxy, "INSERT INTO t VALUES (2, 'NaN', 1)")).toEqual({ code: '0A000' });
    expect(await outcome(pair.proxy, 'UPDATE t SET n = $1 WHERE id = 3', ['NaN'])).toEqual({ code: '0A000' });
    expect((await pair.proxy.query('SELECT n FROM t WHERE id = 3')).rows).toEqual([{ n: '1.5' }]);
  });

  // the new database's column for FLOAT4 is double precision (cutover schema: SQLite stores doubles), so compared as float8
  it('leaves the new database with the same rows', async () => {
    const target = new pg.Client({ connectionString: pair.mirror.targetUrl, types: RAW_TEXT });
    await target.connect();
    try {
      for (let i = 0; i < 50; i++) {
        const [a, b] = await Promise.all([pair.proxy.query('SELECT id::text, n::text, f::float8::text AS f FROM t ORDER BY t.id'), target.query('SELECT id::text, n::text, f::float8::text AS f FROM t ORDER BY t.id')]);
        if (JSON.stringify(a.rows) === JSON.stringify(b.rows)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await target.query('SELECT id::text, n::text, f::float8::text AS f FROM t ORDER BY t.id')).rows).toEqual((await pair.proxy.query('SELECT id::text, n::text, f::float8::text AS f FROM t ORDER BY t.id')).rows);
    } finally {
      await target.end();
    }
  });
});
