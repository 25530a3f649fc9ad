// avg() of integers on an SQLite source is PostgreSQL's numeric quotient: the
// exact sum over the count at its display scale (1.5000000000000000, or
// 33.3333333333333333 for 100/3). SQLite's double printed 1.5, the digits of
// 33.333333333333336, and past 2^53 another number.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { comparedPair, expectSameOutcomes, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE a (id INTEGER PRIMARY KEY, g INTEGER, b BIGINT, i INT4, s SMALLINT, n NUMERIC)`;
const PG_SCHEMA = `CREATE TABLE a (id bigint PRIMARY KEY, g bigint, b bigint, i int4, s smallint, n numeric)`;
const ROWS = `INSERT INTO a VALUES (1, 1, 9007199254740993, 100, 1, 1), (2, 1, 9007199254740993, 0, 1, -1), (3, 1, 9007199254740994, 0, 1, 0),
  (4, 2, -5, -7, -32768, 3), (5, 2, NULL, NULL, NULL, NULL), (6, 3, NULL, NULL, NULL, NULL), (7, 4, 0, 2147483647, 32767, 10000)`;

let pair: ComparedPair;

beforeAll(async () => {
  pair = await comparedPair('sqlite_avg_integers', SCHEMA, [PG_SCHEMA, ROWS]);
  await pair.proxy.query(ROWS);
});
afterAll(() => pair?.close());

const same = (cases: [string, unknown[]?][]) => expectSameOutcomes(pair, cases);

describe('SQLite source: avg() of integers', () => {
  it('is the exact quotient at PostgreSQL\'s scale', async () => {
    await same([
      ['SELECT avg(id), avg(b), avg(i), avg(s), avg(n) FROM a'],
      ['SELECT g, avg(b), avg(i), avg(s), avg(n), avg(id) FROM a GROUP BY g ORDER BY g'],
      ['SELECT avg(i) FROM a WHERE id <= 3'],
      ['SELECT avg(n) FROM a WHERE id <= 2'],
      ['SELECT avg(DISTINCT b), avg(i) FILTER (WHERE id > 1) FROM a'],
      ['SELECT avg(id) FROM a WHERE id > 100'],
      ['SELECT avg(i + 1), avg(i::int8), avg(length(\'abc\')) FROM a'],
      ['SELECT g FROM a GROUP BY g HAVING avg(id) > 1.5 ORDER BY g'],
    ]);
  });
});
