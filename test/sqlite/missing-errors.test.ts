// Where PostgreSQL raises an error, the SQLite source raises the same one
// (SQLSTATE and message, compared with a real server) instead of returning
// something: division by zero, integer overflow, invalid cast input, values a
// column's type cannot hold. Both protocols; the session goes on as it would
// on PostgreSQL; nothing is half-written in the file or in the mirror.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import Database from 'better-sqlite3';
import { registerChecks } from '../../proxy/sqlite/checks.ts';
import { sql } from '../harness/databases.ts';
import { connectClient as client, referenceDatabase, startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

// the legacy file: `cutover schema` makes vc varchar(3), ch varchar(4), n numeric(4,2) and every INT bigint
const SCHEMA = `CREATE TABLE r (id INTEGER PRIMARY KEY, vc VARCHAR(3), ch CHAR(4), i2 SMALLINT, i4 INT4, big INTEGER, n NUMERIC(4,2), note TEXT)`;
// the same table as the application declares it on PostgreSQL: the reference for codes and messages
const PG_SCHEMA = `CREATE TABLE r (id bigint PRIMARY KEY, vc varchar(3), ch char(4), i2 smallint, i4 integer, big bigint, n numeric(4,2), note text)`;
const SEED = `INSERT INTO r (id, vc, ch, i2, i4, big, n, note) VALUES (1, 'abc', 'abcd', 1, 1, 9223372036854775807, 12.34, 'abc')`;

let m: SqliteMirror;
let refUrl: string;
/** What a statement gives: its error's SQLSTATE and message, or its rows as text. */
async function outcome(c: pg.Client, text: string, params?: unknown[]): Promise<unknown> {
  try {
    const r = params ? await c.query({ text, values: params, rowMode: 'array' }) : await c.query({ text, rowMode: 'array' });
    return { rows: r.rows };
  } catch (e) {
    const err = e as { code?: string; message: string };
    return { code: err.code, message: err.message };
  }
}

const fileRows = () => {
  const db = new Database(m.file, { readonly: true });
  db.defaultSafeIntegers(true);
  try {
    const rows = db.prepare('SELECT * FROM r ORDER BY id').raw().all() as unknown[][];
    return rows.map((r) => r.map((v) => (typeof v === 'bigint' ? String(v) : v)));
  } finally {
    db.close();
  }
};
const targetRows = async () => (await sql(m.targetUrl, 'SELECT id::text, vc, ch, i2::text, i4::text, big::text, n::text, note FROM r ORDER BY id')).rows;

beforeAll(async () => {
  m = await startSqliteMirror('sqlite_missing_errors', SCHEMA);
  refUrl = await referenceDatabase('sqlite_missing_errors_ref', PG_SCHEMA, SEED);
  const c = await client(m.url());
  await c.query(SEED);
  await c.end();
});
afterAll(async () => {
  await m?.close();
});

// [statement, parameters (extended protocol) or none (simple protocol), the SQLSTATE PostgreSQL gives]
const CASES: [string, unknown[] | undefined, string][] = [
  ['SELECT 1 / 0', undefined, '22012'],
  ['SELECT 5 % 0', undefined, '22012'],
  ['SELECT mod(5, 0)', undefined, '22012'],
  ['SELECT 1.5 / 0', undefined, '22012'],
  ['SELECT i2 / (i4 - 1) FROM r WHERE id = 1', undefined, '22012'],
  ['SELECT $1::int8 / $2::int8', [1, 0], '22012'],
  ['SELECT $1::int % $2::int', [5, 0], '22012'],
  ['SELECT 9223372036854775807 + 1', undefined, '22003'],
  ['SELECT -9223372036854775807 - 2', undefined, '22003'],
  ['SELECT 4611686018427387904 * 2', undefined, '22003'],
  ['SELECT 2147483647 + 1', undefined, '22003'],
  ['SELECT big + 1 FROM r WHERE id = 1', undefined, '22003'],
  ['SELECT $1::int8 + $2::int8', ['9223372036854775807', '1'], '22003'],
  ['SELECT big * $1::int8 FROM r WHERE id = 1', [2], '22003'],
  ["SELECT 'abc'::int", undefined, '22P02'],
  ["SELECT '12abc'::integer", undefined, '22P02'],
  ["SELECT 'x'::bigint", undefined, '22P02'],
  ["SELECT '99999'::smallint", undefined, '22003'],
  ["SELECT 'abc'::float8", undefined, '22P02'],
  ["SELECT 'abc'::numeric", undefined, '22P02'],
  ["SELECT 'nope'::uuid", undefined, '22P02'],
  ["SELECT '{bad'::json", undefined, '22P02'],
  ["SELECT '2024-02-30'::date", undefined, '22008'],
  ['SELECT note::int FROM r WHERE id = 1', undefined, '22P02'],
  ['SELECT note::int FROM r WHERE id = $1', [1], '22P02'],
  ['SELECT $1::int', ['abc'], '22P02'],
  ['SELECT $1::bigint', ['x'], '22P02'],
  ["INSERT INTO r (id, vc) VALUES (2, 'abcdef')", undefined, '22001'],
  ["UPDATE r SET vc = 'abcd' WHERE id = 1", undefined, '22001'],
  ["INSERT INTO r (id, ch) VALUES (2, 'abcde')", undefined, '22001'],
  ["INSERT INTO r (id, vc) SELECT 2, note || 'defg' FROM r WHERE id = 1", undefined, '22001'],
  ["INSERT INTO r (id, vc) VALUES (2, 'ok'), (3, 'toolong')", undefined, '22001'],
  ['INSERT INTO r (id, vc) VALUES ($1, $2)', [2, 'abcdef'], '22001'],
  ['UPDATE r SET vc = $1 WHERE id = $2', ['abcd', 1], '22001'],
  ['INSERT INTO r (id, vc) VALUES ($1, upper($2))', [2, 'abcdef'], '22001'],
  ['INSERT INTO r (id, i2) VALUES (2, 40000)', undefined, '22003'],
  ['INSERT INTO r (id, i4) VALUES (2, 3000000000)', undefined, '22003'],
  ['INSERT INTO r (id, big) VALUES (2, 9223372036854775808)', undefined, '22003'],
  ['UPDATE r SET i2 = i2 + 40000 WHERE id = 1', undefined, '22003'],
  ['UPDATE r SET big = big * 2 WHERE id = 1', undefined, '22003'],
  ['INSERT INTO r (id, i2) VALUES ($1, $2)', [2, 40000], '22003'],
  ['INSERT INTO r (id, i4) VALUES ($1, $2)', [2, 3000000000], '22003'],
  ['INSERT INTO r (id, n) VALUES (2, 123.45)', undefined, '22003'],
  ['INSERT INTO r (id, n) VALUES ($1, $2)', [2, '123.45'], '22003'],
];

describe("SQLite source: PostgreSQL's errors where SQLite would return something", () => {
  for (const [text, params, code] of CASES) {
    it(`${code} for ${text}${params ? ` with ${JSON.stringify(params)}` : ''}, worded as PostgreSQL words it`, async () => {
      const [ref, proxy] = [await client(refUrl), await client(m.url())];
      try {
        const want = await outcome(ref, text, params);
        expect(want).toMatchObject({ code });
        expect(await outcome(proxy, text, params)).toEqual(want);
      } finally {
        await Promise.all([ref.end(), proxy.end()]);
      }
    });
  }

  it('leaves results that were right as they were, and rounds and trims as PostgreSQL does', async () => {
    const [ref, proxy] = [await client(refUrl), await client(m.url())];
    try {
      const same: [string, unknown[]?][] = [
        ['SELECT 7 / 2, 7 % 3, -7 / 2, -7 % 3, 2 * 3, 9223372036854775806 + 1, 7 % -1'],
        ['SELECT big - 1, big / 2, i2 + i4, note || $1 FROM r WHERE id = 1', ['x']],
        ['SELECT $1::int8 * $2::int8, $1::int8 / $2::int8', [6, 4]],
        ["SELECT '12'::int + 1, ' 7 '::int, 1.9::int, 2.5::int, -2.5::int, '1.5'::float8 * 2"],
        ["INSERT INTO r (id, vc, big, i2) VALUES (10, 'ab   ', 2.5, 32767) RETURNING vc, big, i2"],
        ['INSERT INTO r (id, vc, n) VALUES ($1, $2, $3) RETURNING vc, n', [11, 'xy    ', '99.99']],
        // half away from zero on the decimal digits: the double nearest 2.675 lies below it
        ['INSERT INTO r (id, n) VALUES ($1, $2), (13, 1.005), (14, -0.125) RETURNING n', [12, '2.675']],
        ['UPDATE r SET n = $1 WHERE id = 14 RETURNING n', [-2.675]],
        ['UPDATE r SET i4 = i4 + 2147483646, big = big - 1 WHERE id = 1 RETURNING i4, big'],
      ];
      for (const [text, params] of same) expect(await outcome(proxy, text, params), text).toEqual(await outcome(ref, text, params));
      // what the file and the mirror hold is what PostgreSQL would
      const n = (id: number, v: unknown) => [String(id), null, null, null, null, null, v, null];
      expect(fileRows().filter((r) => Number(r[0]) >= 10)).toEqual([['10', 'ab ', null, '32767', null, '3', null, null], ['11', 'xy ', null, null, null, null, 99.99, null], n(12, 2.68), n(13, 1.01), n(14, -2.68)]);
      const t = (id: number, v: string) => ({ id: String(id), vc: null, ch: null, i2: null, i4: null, big: null, n: v, note: null });
      expect((await targetRows()).filter((r) => Number(r.id) >= 10)).toEqual([
        { id: '10', vc: 'ab ', ch: null, i2: '32767', i4: null, big: '3', n: null, note: null },
        { id: '11', vc: 'xy ', ch: null, i2: null, i4: null, big: null, n: '99.99', note: null },
        t(12, '2.68'), t(13, '1.01'), t(14, '-2.68'),
      ]);
      for (const c of [proxy, ref]) {
        await c.query('DELETE FROM r WHERE id >= 10');
        await c.query('UPDATE r SET i4 = 1, big = 9223372036854775807 WHERE id = 1');
      }
    } finally {
      await Promise.all([ref.end(), proxy.end()]);
    }
  });

  it('writes nothing when a statement fails: not in the file, not in the mirror', async () => {
    const before = { file: fileRows(), target: await targetRows() };
    expect(before.file).toHaveLength(1);
    const c = await client(m.url());
    try {
      for (const [text, params] of CASES) await outcome(c, text, params);
    } finally {
      await c.end();
    }
    expect(fileRows()).toEqual(before.file);
    expect(await targetRows()).toEqual(before.target);
  });

  it('an error outside a transaction block leaves the session usable and the write lock free', async () => {
    const [a, b] = [await client(m.url()), await client(m.url())];
    try {
      await b.query("SET lock_timeout = '500ms'");
      for (const [text, params] of [["INSERT INTO r (id, vc) VALUES (20, 'ok'), (21, 'toolong')"], ['INSERT INTO r (id, vc) VALUES ($1, $2)', [20, 'toolong']]] as [string, unknown[]?][]) {
        expect(await outcome(a, text, params)).toMatchObject({ code: '22001' });
        expect((await a.query('SELECT count(*) FROM r')).rows).toEqual([{ count: '1' }]);
        // the other session writes at once: the failed statement's transaction is over
        await b.query("INSERT INTO r (id, vc) VALUES (30, 'b')");
        await b.query('DELETE FROM r WHERE id = 30');
      }
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
    expect(fileRows()).toHaveLength(1);
  });

  it('an error inside a transaction block fails it until ROLLBACK, which leaves nothing of it; other sessions read on', async () => {
    const before = { file: fileRows(), target: await targetRows() };
    const [a, b] = [await client(m.url()), await client(m.url())];
    try {
      for (const extended of [false, true]) {
        await a.query('BEGIN');
        if (extended) await a.query('INSERT INTO r (id, vc) VALUES ($1, $2)', [40, 'ok']);
        else await a.query("INSERT INTO r (id, vc) VALUES (40, 'ok')");
        expect(await outcome(a, extended ? 'SELECT $1::int8 / $2::int8' : 'SELECT 1 / 0', extended ? [1, 0] : undefined)).toMatchObject({ code: '22012' });
        expect(await outcome(a, 'SELECT 1')).toMatchObject({ code: '25P02' });
        expect(await outcome(a, 'SELECT $1::int', [1])).toMatchObject({ code: '25P02' });
        expect((await b.query('SELECT count(*) FROM r')).rows).toEqual([{ count: '1' }]);
        await a.query('ROLLBACK');
        expect((await a.query('SELECT count(*) FROM r')).rows).toEqual([{ count: '1' }]);
      }
      // COMMIT of a failed transaction rolls back, as PostgreSQL's does
      await a.query('BEGIN');
      await a.query("INSERT INTO r (id, vc) VALUES (41, 'ok')");
      expect(await outcome(a, "UPDATE r SET i2 = 70000 WHERE id = 41")).toMatchObject({ code: '22003' });
      expect((await a.query('COMMIT')).command).toBe('ROLLBACK');
      // a savepoint takes the failure back, and what came before it commits
      await a.query('BEGIN');
      await a.query("INSERT INTO r (id, vc) VALUES (42, 'ok')");
      await a.query('SAVEPOINT s');
      expect(await outcome(a, "INSERT INTO r (id, vc) VALUES (43, 'toolong')")).toMatchObject({ code: '22001' });
      await a.query('ROLLBACK TO SAVEPOINT s');
      await a.query('COMMIT');
      expect(fileRows().map((r) => r[0])).toEqual(['1', '42']);
      expect((await targetRows()).map((r) => r.id)).toEqual(['1', '42']);
      await b.query('DELETE FROM r WHERE id = 42');
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
    expect(fileRows()).toEqual(before.file);
    expect(await targetRows()).toEqual(before.target);
  });
});

describe('the checking arithmetic is SQLite arithmetic wherever PostgreSQL does not err', () => {
  it('gives the result SQLite gives for every operand pair, or the error PostgreSQL gives', () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    registerChecks(db, (v) => v);
    const values: unknown[] = [
      null, 0n, 1n, -1n, 7n, -7n, 3n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n), 1.5, -2.5, 0.5, 0, -0, 1e308, 2 ** 63,
      '12', ' 7 ', '12abc', 'abc', '1.5x', '', '0', '0.0', '9223372036854775808', '1e3', '-9223372036854775808', Buffer.from('12'),
    ];
    const ops: [string, string][] = [['+', 'cutover_add'], ['-', 'cutover_sub'], ['*', 'cutover_mul'], ['/', 'cutover_div'], ['%', 'cutover_mod']];
    const num = db.prepare('SELECT typeof($a * 1), $a * 1').raw();
    let compared = 0;
    for (const [op, f] of ops) {
      const native = db.prepare(`SELECT typeof($a ${op} $b), $a ${op} $b`).raw();
      const checked = db.prepare(`SELECT typeof(r), r FROM (SELECT ${f}($a * 1, $b * 1, 64) AS r)`).raw();
      for (const a of values) {
        for (const b of values) {
          // SQLite's % of a non-integer reads text by its integer prefix ('1e3' as 1), the function gets the
          // number SQLite's arithmetic makes of it (1000); PostgreSQL refuses '1e3' as an integer anyway
          if (op === '%' && [a, b].some((v) => typeof v === 'string' && /e/i.test(v))) continue;
          const [ta, na] = num.get({ a }) as [string, unknown];
          const [tb, nb] = num.get({ a: b }) as [string, unknown];
          const want = native.get({ a, b }) as [string, unknown];
          let expected: string | [string, unknown] = want;
          // NULL in, NULL out: PostgreSQL's operators are strict, so NULL / 0 is NULL there too
          if ((op === '/' || op === '%') && ta !== 'null' && tb !== 'null' && Number(nb) === 0) expected = '22012';
          else if (ta === 'integer' && tb === 'integer' && want[0] === 'real') expected = '22003';
          // float8 overflow (infinite from finite operands), and underflow of * and / (zero from nonzero ones)
          else if (want[0] === 'real' && !Number.isFinite(Number(want[1])) && Number.isFinite(Number(na)) && Number.isFinite(Number(nb))) expected = '22003';
          else if (want[0] === 'real' && (op === '*' || op === '/') && Number(want[1]) === 0 && Number(na) !== 0 && Number(nb) !== 0) expected = '22003';
          let got: string | [string, unknown];
          try {
            got = checked.get({ a, b }) as [string, unknown];
          } catch (e) {
            got = (e as { code: string }).code;
          }
          expect(got, `${String(a)} ${op} ${String(b)}`).toEqual(expected);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(4 * values.length ** 2);
    db.close();
  });
});
