// GREATEST and LEAST on an SQLite source answer as on PostgreSQL: NULLs are
// ignored (NULL only when every value is), integers, reals, numerics, text and
// timestamps compare as their type does, a parameter takes the other values'
// type, and the result column is named greatest/least with the values' type.
// Before, the engine refused them (0A000); SQLite's own max()/min() of several
// values give NULL as soon as one is NULL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { comparedPair, resultsOrError, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE s (id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, x REAL, price NUMERIC(10,2), name TEXT, at TIMESTAMP)`;
const PG_SCHEMA = `CREATE TABLE s (id bigint PRIMARY KEY, a bigint, b bigint, x double precision, price numeric(10,2), name text, at timestamp)`;
const ROWS = `INSERT INTO s VALUES
  (1, 3, 7, 1.5, 10.25, 'pear', '2024-05-06 07:08:09'),
  (2, NULL, 4, NULL, NULL, NULL, NULL),
  (3, -2, -9, -0.5, 3.15, 'apple', '2023-01-01 00:00:00'),
  (4, NULL, NULL, NULL, 7.00, 'Zebra', '2024-05-06 07:08:10')`;

let pair: ComparedPair;

async function outcome(c: pg.Client, text: string, params?: unknown[]): Promise<unknown> {
  const r = await resultsOrError(c, text, params);
  return Array.isArray(r) ? [r[0]!.fields.map((f) => [f.name, f.dataTypeID]), r[0]!.rows] : { code: r.code };
}

beforeAll(async () => {
  pair = await comparedPair('sqlite_greatest_least', SCHEMA, [PG_SCHEMA, ROWS]);
  await pair.proxy.query(ROWS);
});
afterAll(() => pair?.close());

const CASES: [string, unknown[]?][] = [
  ['SELECT id, greatest(a, b), least(a, b) FROM s ORDER BY id'],
  ['SELECT id, greatest(a, b, 5), least(a, 0, b) FROM s ORDER BY id'],
  ['SELECT id, greatest(x, 0), least(price, 5) FROM s ORDER BY id'],
  ['SELECT id, greatest(name, $1), least(name, $1) FROM s ORDER BY id', ['orange']],
  ['SELECT id, greatest(at, $1), least(at, $1) FROM s ORDER BY id', ['2024-01-01 00:00:00']],
  ['SELECT id FROM s WHERE greatest(a, b) > $1 ORDER BY id', [4]],
  ['SELECT greatest(NULL::int, NULL::int), least(1, NULL, 2)'],
  ['SELECT id FROM s WHERE least(a, b) IS NULL ORDER BY id'],
  ['UPDATE s SET b = greatest(b, $1) WHERE id <= 2 RETURNING id, b', [5]],
];

describe('SQLite source: GREATEST and LEAST', () => {
  it('answer as PostgreSQL does', async () => {
    for (const [text, params] of CASES) expect(await outcome(pair.proxy, text, params), text).toEqual(await outcome(pair.ref, text, params));
  });
});
