// Arithmetic past the range of its type errs on an SQLite source as on
// PostgreSQL (22003, PostgreSQL's message), with nothing written. SQLite went
// on: a double past its range became Infinity, an integer past 64 bits a
// double (-(-9223372036854775807 - 1) was 9.22337203685478e+18), and the file
// and the new database kept it. Infinity written as such stays as PostgreSQL
// keeps it.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { comparedPair, expectSameOutcomes, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE f (id INTEGER PRIMARY KEY, x REAL);
CREATE TABLE i (id INTEGER PRIMARY KEY, a BIGINT, b INT4)`;
const PG_SCHEMA = `CREATE TABLE f (id bigint PRIMARY KEY, x double precision);
CREATE TABLE i (id bigint PRIMARY KEY, a bigint, b int4)`;
const ROWS = `INSERT INTO f VALUES (1, 1e308), (2, -1e308), (3, 1e-308), (4, 'Infinity'), (5, 2.5);
INSERT INTO i VALUES (1, -9223372036854775808, -2147483648), (2, 9223372036854775807, 2147483647), (3, 5, 7)`;

let pair: ComparedPair;

beforeAll(async () => {
  pair = await comparedPair('sqlite_numeric_overflow', SCHEMA, [PG_SCHEMA, ROWS]);
  await pair.proxy.query(ROWS);
});
afterAll(() => pair?.close());

const same = (cases: [string, unknown[]?][]) => expectSameOutcomes(pair, cases);

describe('SQLite source: float8 overflow', () => {
  it('is 22003 value out of range, as PostgreSQL says, where SQLite gave Infinity', async () => {
    await same([
      ['SELECT 1e308::float8 * 10'],
      ["SELECT '1e308'::float8 * 10"],
      ['SELECT 1e308::float8 + 1e308::float8'],
      ['SELECT -1e308::float8 - 1e308::float8'],
      ['SELECT 1e308::float8 / 0.1::float8'],
      ['SELECT 1e308::float8 * 10.5'],
      ['SELECT 1e-308::float8 * 1e-308::float8'],
      ['SELECT 1e-308::float8 / 1e308::float8'],
      ['SELECT x * 10 FROM f WHERE id = 1'],
      ['SELECT x * 1.5 FROM f WHERE id = 2'],
      ['SELECT x + x FROM f WHERE id = 1'],
      ['SELECT x * x FROM f WHERE id = 3'],
      ['SELECT $1::float8 * $2::float8', ['1e308', '10']],
      ['SELECT $1::float8 * 10', ['-1e308']],
      ['SELECT x / $1::float8 FROM f WHERE id = 1', ['0.5']],
    ]);
  });

  it('writes nothing when refused', async () => {
    await same([
      ['INSERT INTO f VALUES (10, 1e308::float8 * 10)'],
      ['INSERT INTO f VALUES ($1, $2::float8 * $3::float8)', [11, '1e308', '10']],
      ['INSERT INTO f VALUES ($1, $2::float8 * 10)', [12, '1e308']],
      ['INSERT INTO f SELECT id + 20, x * 10 FROM f WHERE id <= 2'],
      ['UPDATE f SET x = x * 10 WHERE id = 1'],
      ['UPDATE f SET x = x + $1 WHERE id = 2', ['-1e308']],
      ['SELECT id, x FROM f ORDER BY id'],
    ]);
  });

  it('keeps Infinity given as such, and arithmetic on it', async () => {
    await same([
      ["SELECT 'Infinity'::float8 * 10, '-inf'::float8 + 1, 'inf'::float8 / 2"],
      ['SELECT x * 10, x + 1e308::float8, -x FROM f WHERE id = 4'],
      ["INSERT INTO f VALUES (30, 'Infinity'::float8 * 2), (31, '-Infinity'), (32, 'inf'::float8 - 1e308::float8)"],
      ['INSERT INTO f VALUES ($1, $2::float8 * 2)', [33, 'Infinity']],
      ['INSERT INTO f VALUES ($1, $2)', [34, '-Infinity']],
      ['SELECT id, x FROM f WHERE id >= 30 ORDER BY id'],
      ['SELECT 1e308::float8 * 1, 1e307::float8 * 10, 2.5::float8 * 4, x * 2 FROM f WHERE id = 5'],
    ]);
  });
});

describe('SQLite source: bigint overflow', () => {
  it('is 22003 bigint out of range, as PostgreSQL says, where SQLite gave a float', async () => {
    await same([
      ['SELECT -(-9223372036854775807 - 1)'],
      ['SELECT -(9223372036854775807 + 0) - 2'],
      ['SELECT 9223372036854775807 + 1'],
      ['SELECT -9223372036854775807 - 2'],
      ['SELECT 4611686018427387904 * 2'],
      ['SELECT abs(-9223372036854775807 - 1)'],
      ['SELECT -a FROM i WHERE id = 1'],
      ['SELECT abs(a) FROM i WHERE id = 1'],
      ['SELECT a - 1 FROM i WHERE id = 1'],
      ['SELECT a + 1 FROM i WHERE id = 2'],
      ['SELECT a * -1 FROM i WHERE id = 1'],
      ['SELECT -1 * a FROM i WHERE id = 1'],
      ['SELECT a / -1 FROM i WHERE id = 1'],
      ['SELECT a + a FROM i WHERE id = 2'],
      ['SELECT a * 2 FROM i WHERE id = 2'],
      ['SELECT -(a - 0) FROM i WHERE id = 1'],
      ['SELECT -$1::int8', ['-9223372036854775808']],
      ['SELECT abs($1::int8)', ['-9223372036854775808']],
      ['SELECT $1::int8 * 2', ['9223372036854775807']],
      ['SELECT $1::int8 + $2::int8', ['9223372036854775807', '1']],
    ]);
  });

  it('writes nothing when refused, and keeps what is in range', async () => {
    await same([
      ['INSERT INTO i VALUES (10, -(-9223372036854775807 - 1), 0)'],
      ['INSERT INTO i VALUES ($1, -$2::int8, 0)', [11, '-9223372036854775808']],
      ['UPDATE i SET a = -a WHERE id = 1'],
      ['UPDATE i SET a = abs(a) WHERE id = 1'],
      ['UPDATE i SET a = a + 1 WHERE id = 2'],
      ['INSERT INTO i VALUES (12, -(-9223372036854775807), 1), (13, -(5 - 7), 2)'],
      ['SELECT -a, abs(a), -(a - 1), a - 5 FROM i WHERE id = 3'],
      ['SELECT -a FROM i WHERE id = 2'],
      ['SELECT -(-9223372036854775807), abs(-9223372036854775807), -(2 - 3)'],
      ['SELECT id, a, b FROM i ORDER BY id'],
    ]);
  });
});
