// Arithmetic over INT4 and SMALLINT columns is checked against their own
// range on an SQLite source, as PostgreSQL's int4 and int2 operators check
// it: 22003 "integer out of range" / "smallint out of range". The translation
// knew only the operands' evident types, so a column's arithmetic was checked
// against int8: b + 1 of 2147483647 answered 2147483648.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { comparedPair, expectSameOutcomes, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE i (id INTEGER PRIMARY KEY, a BIGINT, b INT4, s SMALLINT, x REAL)`;
const PG_SCHEMA = `CREATE TABLE i (id bigint PRIMARY KEY, a bigint, b int4, s smallint, x double precision)`;
const ROWS = `INSERT INTO i VALUES (1, 1, 2147483647, 32767, 1.5), (2, 2, -2147483648, -32768, 2.5), (3, 3000000000, 5, 7, 0)`;

let pair: ComparedPair;

beforeAll(async () => {
  pair = await comparedPair('sqlite_int4_range', SCHEMA, [PG_SCHEMA, ROWS]);
  await pair.proxy.query(ROWS);
});
afterAll(() => pair?.close());

const same = (cases: [string, unknown[]?][]) => expectSameOutcomes(pair, cases);

describe('SQLite source: int4 and int2 column arithmetic', () => {
  it('is 22003 past the column type\'s range, where SQLite went on in 64 bits', async () => {
    await same([
      ['SELECT b + 1 FROM i WHERE id = 1'],
      ['SELECT 1 + b FROM i WHERE id = 1'],
      ['SELECT b * 2 FROM i WHERE id = 1'],
      ['SELECT b - 1 FROM i WHERE id = 2'],
      ['SELECT b / -1 FROM i WHERE id = 2'],
      ['SELECT -b FROM i WHERE id = 2'],
      ['SELECT abs(b) FROM i WHERE id = 2'],
      ['SELECT b + b FROM i WHERE id = 1'],
      ['SELECT i.b + 1 + 0 FROM i WHERE id = 1'],
      ['SELECT b + $1 FROM i WHERE id = 1', [1]],
      ['SELECT s + s FROM i WHERE id = 1'],
      ['SELECT s * s FROM i WHERE id = 2'],
      ['SELECT -s FROM i WHERE id = 2'],
      ['SELECT abs(s) FROM i WHERE id = 2'],
      ['SELECT s * 100000 FROM i WHERE id = 1'],
      ['SELECT s + b FROM i WHERE id = 1'],
      ['UPDATE i SET a = b + 1 WHERE id = 1'],
      ['SELECT id, a, b, s FROM i ORDER BY id'],
    ]);
  });

  it('widens as PostgreSQL does beside a wider operand, and keeps what is in range', async () => {
    await same([
      ['SELECT b + 1::int8, b + a, b + 3000000000, b * 1.5, b + x, s + 1 FROM i WHERE id = 1'],
      ['SELECT a + 1, a * 2, -a, abs(a) FROM i WHERE id = 3'],
      ['SELECT b + 1, b * 2, -b, abs(b), s + s, -s FROM i WHERE id = 3'],
      ['SELECT -b, abs(b), -s, abs(s) FROM i WHERE id = 1'],
      ['SELECT b::int8 + 1, (b + 0::int8) * 2, s::int4 * s FROM i WHERE id = 1'],
      ['SELECT b + $1::int8 FROM i WHERE id = 1', [1]],
      ['SELECT sum(b), sum(s) FROM i'],
      ['SELECT t.b + 1 FROM (SELECT a AS b FROM i WHERE id = 3) t'],
      ['SELECT b + 1 FROM (SELECT a AS b FROM i WHERE id = 3) t'],
      ['WITH t AS (SELECT a AS b FROM i WHERE id = 3) SELECT b * 2 FROM t'],
    ]);
  });
});
