// A decimal constant SQLite cannot hold (past 15 significant digits) is
// refused where it would be stored or returned (sqlite/numeric-digits), but a
// comparison with it is answered as PostgreSQL answers it: exactly beside a
// numeric or integer column (1.00000000000000000001 is not 1), as float8
// beside a float column. It was refused everywhere (22003), a WHERE clause too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparedPair, expectSameOutcomes, statementOutcome, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE n (id INTEGER PRIMARY KEY, amount NUMERIC(20, 6), qty BIGINT, x REAL)`;
const PG_SCHEMA = `CREATE TABLE n (id bigint PRIMARY KEY, amount numeric(20, 6), qty bigint, x double precision)`;
const ROWS = `INSERT INTO n VALUES (1, 1, 1, 1), (2, 0.1, 2, 0.1), (3, 12345678901234.5, 3, 0.30000000000000004), (4, -2.5, -3, -2.5), (5, NULL, NULL, NULL)`;

let pair: ComparedPair;

beforeAll(async () => {
  pair = await comparedPair('sqlite_decimal_compare', SCHEMA, [PG_SCHEMA, ROWS]);
  await pair.proxy.query(ROWS);
});
afterAll(() => pair?.close());

const same = (cases: [string, unknown[]?][]) => expectSameOutcomes(pair, cases);

const DECIMALS = ['1.00000000000000000001', '0.99999999999999999999', '0.1000000000000000001', '0.0999999999999999999', '12345678901234.500001', '-2.50000000000000000001', '-2.49999999999999999999', '2.99999999999999999999', '1e-400'];

describe('SQLite source: comparisons with a decimal SQLite cannot hold', () => {
  it('answer as PostgreSQL does, in every operator and position', async () => {
    const cases: [string][] = [];
    for (const d of DECIMALS) {
      for (const col of ['amount', 'qty', 'x']) {
        for (const op of ['=', '<>', '<', '<=', '>', '>=']) {
          cases.push([`SELECT id FROM n WHERE ${col} ${op} ${d} ORDER BY id`]);
          cases.push([`SELECT id FROM n WHERE ${d} ${op} ${col} ORDER BY id`]);
        }
        cases.push([`SELECT id FROM n WHERE NOT (${col} < ${d}) ORDER BY id`]);
        cases.push([`SELECT id, ${col} = ${d}, ${col} <> ${d} FROM n ORDER BY id`]);
      }
    }
    await same(cases);
  });

  it('bound as $1::numeric, as the constant is, and exactly held values as before', async () => {
    const cases: [string, unknown[]][] = [];
    for (const d of [...DECIMALS, '1', '0.1', '-2.5', '12345678901234.5', '3']) {
      for (const col of ['amount', 'qty', 'x']) {
        for (const op of ['=', '<>', '<', '<=', '>', '>=']) {
          cases.push([`SELECT id FROM n WHERE ${col} ${op} $1::numeric ORDER BY id`, [d]]);
          cases.push([`SELECT id FROM n WHERE $1::numeric ${op} ${col} ORDER BY id`, [d]]);
        }
      }
    }
    cases.push(['SELECT id FROM n WHERE amount > $1::numeric AND qty < $2::numeric ORDER BY id', ['0.1000000000000000001', '2.99999999999999999999']]);
    for (const [a, b] of [['0.0999999999999999999', '1.00000000000000000001'], ['0.1000000000000000001', '0.99999999999999999999'], ['-2.50000000000000000001', '2.99999999999999999999'], ['0.1', '1']]) {
      for (const col of ['amount', 'qty', 'x']) {
        cases.push([`SELECT id FROM n WHERE ${col} BETWEEN $1::numeric AND $2::numeric ORDER BY id`, [a, b]]);
        cases.push([`SELECT id FROM n WHERE ${col} NOT BETWEEN $1::numeric AND $2::numeric ORDER BY id`, [a, b]]);
        cases.push([`SELECT id FROM n WHERE ${col} IN ($1::numeric, $2::numeric, 2) ORDER BY id`, [a, b]]);
        cases.push([`SELECT id FROM n WHERE ${col} NOT IN ($1::numeric, $2::numeric) ORDER BY id`, [a, b]]);
      }
    }
    cases.push(['SELECT id FROM n WHERE amount = $1::numeric', [null]]);
    cases.push(['SELECT id FROM n WHERE amount = $1::numeric', ['abc']]);
    cases.push(['UPDATE n SET qty = qty + 1 WHERE amount < $1::numeric RETURNING id, qty', ['0.1000000000000000001']]);
    await same(cases);
    // used elsewhere too, it would be returned or stored: refused as before
    expect(await statementOutcome(pair.proxy, 'SELECT $1::numeric, id FROM n WHERE amount = $1::numeric', ['1.00000000000000000001'])).toMatchObject({ code: '22003' });
  });

  it('in BETWEEN and IN lists too', async () => {
    await same([
      ['SELECT id FROM n WHERE amount BETWEEN 0.0999999999999999999 AND 1.00000000000000000001 ORDER BY id'],
      ['SELECT id FROM n WHERE amount BETWEEN 0.1000000000000000001 AND 0.99999999999999999999 ORDER BY id'],
      ['SELECT id FROM n WHERE amount NOT BETWEEN 0.1000000000000000001 AND 1.00000000000000000001 ORDER BY id'],
      ['SELECT id FROM n WHERE qty BETWEEN -2.50000000000000000001 AND 2.99999999999999999999 ORDER BY id'],
      ['SELECT id FROM n WHERE amount IN (1.00000000000000000001, 0.1) ORDER BY id'],
      ['SELECT id FROM n WHERE amount NOT IN (1.00000000000000000001, 0.1) ORDER BY id'],
      ['SELECT id FROM n WHERE qty IN (1.00000000000000000001, 2) ORDER BY id'],
      ['SELECT id, amount IN (1.00000000000000000001, 0.1) FROM n ORDER BY id'],
      // cast to float8, it is the nearest double there as here
      ['SELECT id FROM n WHERE x = 0.1000000000000000001::float8 ORDER BY id'],
      ['SELECT 0.1000000000000000001::float8, 1e-400::float8'],
    ]);
  });

  it('in an UPDATE or DELETE that finds its rows so, writing only what SQLite holds', async () => {
    await same([
      ['UPDATE n SET qty = qty + 10 WHERE amount > 0.1000000000000000001 RETURNING id, qty'],
      ['DELETE FROM n WHERE amount = 1.00000000000000000001'],
      ['DELETE FROM n WHERE amount < -2.49999999999999999999 RETURNING id'],
      ['SELECT id, amount, qty FROM n ORDER BY id'],
    ]);
  });

  it('still refuses one that would be stored or returned', async () => {
    for (const text of [
      'INSERT INTO n VALUES (10, 12345678901234.123456)',
      'UPDATE n SET amount = 1.00000000000000000001 WHERE id = 1',
      'INSERT INTO n (id, amount) SELECT 11, 0.1000000000000000001',
      'SELECT 1.00000000000000000001',
      'SELECT amount + 1.00000000000000000001 FROM n',
    ]) {
      expect.soft(await statementOutcome(pair.proxy, text), text).toMatchObject({ code: '22003' });
    }
  });
});
