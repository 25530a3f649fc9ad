// date ± integer and date − date over dates before the common era, as the
// engine stores them ('0044-03-15 BC'): answered as PostgreSQL answers them,
// crossing the era and the proleptic leap days, and past year 9999. They
// were 22007 "invalid input syntax for type date" for a BC date, and 22008
// for a result outside years 1..9999 that PostgreSQL holds.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { comparedPair, expectSameOutcomes, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE d (id INTEGER PRIMARY KEY, day DATE, other DATE)`;
const PG_SCHEMA = `CREATE TABLE d (id bigint PRIMARY KEY, day date, other date)`;
const ROWS = `INSERT INTO d VALUES (1, '0044-03-15 BC', '2024-01-05'), (2, '0001-12-31 BC', '0001-01-01'), (3, '0001-02-28 BC', '0005-02-28 BC'), (4, '9999-12-31', '4714-11-24 BC'), (5, '2024-01-05', NULL)`;

let pair: ComparedPair;

beforeAll(async () => {
  pair = await comparedPair('sqlite_date_era_arith', SCHEMA, [PG_SCHEMA, ROWS]);
  await pair.proxy.query(ROWS);
});
afterAll(() => pair?.close());

const same = (cases: [string, unknown[]?][]) => expectSameOutcomes(pair, cases);

describe('SQLite source: date arithmetic before the common era', () => {
  it('answers as PostgreSQL does', async () => {
    await same([
      ['SELECT id, day + 1, day - 1, day + 366, 1 + day, day - other, other - day FROM d ORDER BY id'],
      ['SELECT id, day + $1::int4 FROM d ORDER BY id', [-800000]],
      ['SELECT other - 1 FROM d WHERE id = 4'],
      ["SELECT '0044-03-15 BC'::date + 1, '0001-01-01'::date - 1, '0044-03-15 BC'::date - '0044-03-15'::date"],
      ['UPDATE d SET day = day + 1 WHERE id = 2 RETURNING day'],
      ['SELECT id, day FROM d ORDER BY id'],
    ]);
  });
});
