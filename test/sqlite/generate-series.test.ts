// generate_series(start, stop[, step]) in FROM on an SQLite source answers as
// on PostgreSQL (values, column names, NULL and zero-step handling), compared
// with a real server. Before, every function in FROM was refused (0A000), and
// with it a common idiom of reports and of client libraries' own tests
// (postgres.js's cursor tests). In the select list too. A series too long for the engine's whole-result
// answer is refused with 54000 before anything is generated; functions in FROM
// other than generate_series stay refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparedPair, statementOutcome, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE d (day INTEGER PRIMARY KEY, sales INTEGER)`;
const PG_SCHEMA = `CREATE TABLE d (day bigint PRIMARY KEY, sales bigint)`;
const ROWS = `INSERT INTO d VALUES (2, 20), (3, 30), (5, 50)`;

let pair: ComparedPair;

const outcome = statementOutcome;

beforeAll(async () => {
  pair = await comparedPair('sqlite_generate_series', SCHEMA, [PG_SCHEMA, ROWS]);
  await pair.proxy.query(ROWS);
});
afterAll(() => pair?.close());

const SAME: [string, unknown[]?][] = [
  ['SELECT * FROM generate_series(1, 5)'],
  ['SELECT x FROM generate_series(1, 10, 4) AS x'],
  ['SELECT g.n FROM generate_series(5, 1, -2) AS g(n)'],
  ['SELECT * FROM pg_catalog.generate_series(3, 1)'],
  ['SELECT count(*)::int FROM generate_series(1, 1000) s'],
  ['SELECT * FROM generate_series(1, NULL)'],
  ['SELECT * FROM generate_series(1, 3, NULL)'],
  ['SELECT * FROM generate_series(1, $1)', [4]],
  // the usual report: every day of a range, with the days that have no rows
  ['SELECT s.day, coalesce(d.sales, 0) AS sales FROM generate_series(1, 6) AS s(day) LEFT JOIN d ON d.day = s.day ORDER BY s.day'],
  ['SELECT * FROM generate_series(1, 3, 0)'],
  // in the select list: one row per value, for each row of the FROM list
  ['SELECT generate_series(1, 3)'],
  ['SELECT $1::int AS a, generate_series(1, 2) AS x', [7]],
  ['SELECT d.day, generate_series(1, d.day) AS k FROM d ORDER BY d.day, k'],
  ['SELECT generate_series(1, 4, 2) AS odd ORDER BY odd DESC LIMIT 1'],
];

describe('SQLite source: generate_series in FROM', () => {
  it('answers as PostgreSQL does', async () => {
    for (const [text, params] of SAME) expect(await outcome(pair.proxy, text, params), text).toEqual(await outcome(pair.ref, text, params));
  });

  it('types the series column as PostgreSQL does before it runs, for a client that describes first', async () => {
    const types = async (c: typeof pair.proxy, text: string, values: unknown[]) => (await c.query({ text, values, rowMode: 'array' })).fields.map((f) => [f.name, f.dataTypeID]);
    for (const [text, values] of [
      ['SELECT * FROM generate_series(1, $1::int)', [3]],
      ['SELECT * FROM generate_series(1, $1::int8) AS g', [3]],
      ['SELECT g.n, n * 2 AS twice FROM generate_series(1, $1::int, 1) AS g(n)', [3]],
      ['SELECT s.day, d.sales FROM generate_series(1, $1::int) AS s(day) LEFT JOIN d ON d.day = s.day ORDER BY s.day', [4]],
      ['SELECT x FROM generate_series(0.5, $1::numeric, 0.5) AS x', [2]],
    ] as const) {
      expect(await types(pair.proxy, text, [...values]), text).toEqual(await types(pair.ref, text, [...values]));
    }
  });

  it('refuses what the engine cannot answer with a reason, and the session goes on', async () => {
    expect(await outcome(pair.proxy, 'SELECT count(*) FROM generate_series(1, 100000000)')).toMatchObject({ code: '54000', message: expect.stringContaining('more than 10000000 values') });
    expect(await outcome(pair.proxy, `SELECT * FROM generate_series('2024-01-01'::timestamp, '2024-01-03'::timestamp, '1 day'::interval)`)).toMatchObject({ code: '0A000' });
    expect(await outcome(pair.proxy, 'SELECT * FROM generate_series(1, 3) WITH ORDINALITY')).toMatchObject({ code: '0A000' });
    expect(await outcome(pair.proxy, 'SELECT * FROM unnest(ARRAY[1, 2])')).toMatchObject({ code: '0A000' });
    // an aggregate beside it is evaluated before the series in PostgreSQL: not a join
    expect(await outcome(pair.proxy, 'SELECT count(*), generate_series(1, 2) FROM d')).toMatchObject({ code: '0A000' });
    expect(await outcome(pair.proxy, 'SELECT count(*) + 1, generate_series(1, 2) FROM d')).toMatchObject({ code: '0A000' });
    expect(await outcome(pair.proxy, 'SELECT 1 AS one')).toEqual(['SELECT', 1, ['one'], [['1']]]);
  });
});
