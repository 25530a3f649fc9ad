// float8 functions and aggregates past their range or domain err on an SQLite
// source as on PostgreSQL (22003, 2201E, 2201F, PostgreSQL's message), and a
// value real cannot hold is refused as real refuses it. SQLite answered
// Infinity, 0 or NULL: sum() of two 1e308 was Infinity, power(10, 400) too,
// 1e300::float8::float4 stayed 1e300, and a write stored them.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { comparedPair, expectSameOutcomes, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE f (id INTEGER PRIMARY KEY, x REAL, r FLOAT4)`;
const PG_SCHEMA = `CREATE TABLE f (id bigint PRIMARY KEY, x double precision, r real)`;
const ROWS = `INSERT INTO f VALUES (1, 1e308, 1), (2, 1e308, 2), (3, 1e-308, 3), (4, -1, 4)`;

let pair: ComparedPair;

beforeAll(async () => {
  pair = await comparedPair('sqlite_float_range', SCHEMA, [PG_SCHEMA, ROWS]);
  await pair.proxy.query(ROWS);
});
afterAll(() => pair?.close());

const same = (cases: [string, unknown[]?][]) => expectSameOutcomes(pair, cases);

describe('SQLite source: float8 aggregates that overflow', () => {
  it('sum() and avg() are 22003 where the running sum leaves the range, in every form of the call', async () => {
    await same([
      ['SELECT sum(x) FROM f'],
      ['SELECT avg(x) FROM f'],
      ['SELECT sum(x) OVER (ORDER BY id) FROM f'],
      ['SELECT sum(x * 1) FROM f WHERE id <= 2'],
      ['SELECT id % 2, sum(x) FROM f GROUP BY 1 ORDER BY 1'],
      ['SELECT sum($1::float8) FROM f WHERE id <= 2', ['1e308']],
    ]);
  });

  it('keeps what stays in range, and Infinity summed as such', async () => {
    await same([
      ['SELECT sum(x) FILTER (WHERE id > 1), avg(x) FILTER (WHERE id > 1) FROM f'],
      ['SELECT sum(x), avg(x), sum(DISTINCT x) FROM f WHERE id IN (1, 3, 4)'],
      ['SELECT sum(x) FILTER (WHERE id > 1), sum(DISTINCT x) FROM f'],
      ['SELECT sum(x) OVER (PARTITION BY id) FROM f ORDER BY id'],
      ["SELECT sum(v), avg(v) FROM (VALUES ('Infinity'::float8), (1e308::float8), (1e308::float8)) t(v)"],
      ['SELECT sum(r), avg(r), sum(id) FROM f'],
    ]);
  });
});

describe('SQLite source: float8 functions past their range or domain', () => {
  it('is PostgreSQL\'s error, where SQLite gave Infinity, 0 or NULL', async () => {
    await same([
      ['SELECT power(10::float8, 400)'],
      ['SELECT power(10, 400)'],
      ['SELECT power(x, 2) FROM f WHERE id = 1'],
      ['SELECT power(1e-200::float8, 2)'],
      ['SELECT power(0::float8, -1)'],
      ['SELECT power(x, 0.5::float8) FROM f WHERE id = 4'],
      ['SELECT power($1::float8, $2::float8)', ['10', '400']],
      ['SELECT exp(1000::float8)'],
      ['SELECT exp(-1000::float8)'],
      ['SELECT sqrt(x) FROM f WHERE id = 4'],
      ['SELECT ln(0::float8)'],
      ['SELECT ln(x) FROM f WHERE id = 4'],
    ]);
  });

  it('keeps what is in range', async () => {
    await same([
      ['SELECT power(x, 0.5::float8), sqrt(x), ln(x) FROM f WHERE id = 1'],
      ["SELECT power(2::float8, 10), exp(1::float8) > 2.7, sqrt(16::float8), power('Infinity'::float8, 2), exp('-Infinity'::float8)"],
      ['SELECT power(x, 3) FROM f WHERE id = 4'],
    ]);
  });
});

describe('SQLite source: real (float4)', () => {
  it('a double real cannot hold is 22003, cast or written', async () => {
    await same([
      ['SELECT 1e300::float8::float4'],
      ['SELECT 1e-300::float8::float4'],
      ['SELECT 1e300::float4'],
      ['SELECT -1.5e39::real'],
      ['SELECT x::float4 FROM f WHERE id = 1'],
      ['SELECT $1::float8::float4', ['1e300']],
      ['UPDATE f SET r = x WHERE id = 1'],
      ['UPDATE f SET r = x * 1e-10 WHERE id = 3'],
      ['INSERT INTO f VALUES ($1, 1, $2::float8)', [10, '1e300']],
      ['SELECT id, r FROM f ORDER BY id'],
    ]);
  });

  it('keeps what real holds', async () => {
    await same([
      ['SELECT 3e38::float8::float4, 1e-40::float8::float4, 2.5::float4, x::float4 FROM f WHERE id = 4'],
      ['UPDATE f SET r = x WHERE id = 4'],
      ['SELECT id, r FROM f ORDER BY id'],
    ]);
  });
});
