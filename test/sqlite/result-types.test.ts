// What an application reads back through the SQLite source, with
// node-postgres's own type parsers (a Date for a timestamp, a string for a
// numeric, a number for an int8 sum it cannot lose), compared with what it
// reads from a real PostgreSQL holding the same rows: aggregates over typed
// columns are typed as PostgreSQL types them. Before: max(ts) came back a
// string, not a Date, and sum(numeric(10,2)) the JavaScript number 300.5,
// not the string '300.50'.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { comparedPair, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE pay (id INTEGER PRIMARY KEY, dept INTEGER, amount NUMERIC(10,2), rate DOUBLE PRECISION, paid TIMESTAMPTZ, due DATE, note TEXT)`;
const PG_SCHEMA = `CREATE TABLE pay (id bigint PRIMARY KEY, dept bigint, amount numeric(10,2), rate double precision, paid timestamptz, due date, note text)`;
const ROWS = `INSERT INTO pay VALUES
  (1, 1, 100.25, 0.5, '2024-01-05 10:00:00+00', '2024-02-01', 'a'),
  (2, 1, 200.25, 1.5, '2024-01-06 09:30:00.5+00', '2024-02-03', 'b'),
  (3, 2, 0.1, 2.25, '2023-12-31 23:59:59+00', '2024-01-15', NULL),
  (4, 2, 0.2, NULL, NULL, NULL, 'd')`;

let pair: ComparedPair;
let proxy: pg.Client;
let ref: pg.Client;

beforeAll(async () => {
  // node-postgres's own type parsers: what an application gets
  pair = await comparedPair('sqlite_result_types', SCHEMA, [PG_SCHEMA, ROWS], { parsed: true });
  ({ proxy, ref } = pair);
  await ref.query(`SET TimeZone = 'UTC'`);
  await proxy.query(ROWS);
});
afterAll(() => pair?.close());

/** Field types and rows as the application gets them, from both; expected equal. */
async function same(text: string, params: unknown[] = []): Promise<void> {
  const [want, got] = await Promise.all([ref.query(text, params), proxy.query(text, params)]);
  expect(got.fields.map((f) => [f.name, f.dataTypeID]), text).toEqual(want.fields.map((f) => [f.name, f.dataTypeID]));
  expect(got.rows, text).toEqual(want.rows);
}

describe('SQLite source: result types of aggregates over typed columns', () => {
  it('min and max keep the column type: Dates for timestamps and dates', async () => {
    await same('SELECT max(paid), min(paid), max(due), min(amount), max(note) FROM pay');
    await same('SELECT dept, max(paid) AS last FROM pay GROUP BY dept ORDER BY dept');
    await same('SELECT p.dept, min(p.due) FROM pay p WHERE p.id > $1 GROUP BY p.dept ORDER BY 1', [0]);
  });

  it('sum is int8, float8 or numeric printed with the scale it adds up', async () => {
    await same('SELECT sum(amount), sum(dept), sum(rate) FROM pay');
    await same('SELECT dept, sum(amount) FROM pay GROUP BY dept ORDER BY dept');
    await same('SELECT id, sum(amount) OVER (PARTITION BY dept ORDER BY id) FROM pay ORDER BY id');
  });

  it('numerics go in binary too, when the client asks (node-postgres binary: true)', async () => {
    await proxy.query(`INSERT INTO pay (id, amount) VALUES (5, -12345.6), (6, 0.0001), (7, 0)`);
    await ref.query(`INSERT INTO pay (id, amount) VALUES (5, -12345.6), (6, 0.0001), (7, 0)`);
    for (const text of ['SELECT id, amount FROM pay ORDER BY id', 'SELECT sum(amount), min(amount) FROM pay', 'SELECT sum(dept) FROM pay']) {
      const [want, got] = await Promise.all([ref.query({ text, values: [], binary: true, queryMode: 'extended' } as pg.QueryConfig), proxy.query({ text, values: [], binary: true, queryMode: 'extended' } as pg.QueryConfig)]);
      expect(got.rows, text).toEqual(want.rows);
    }
    await proxy.query('DELETE FROM pay WHERE id > 4');
    await ref.query('DELETE FROM pay WHERE id > 4');
  });

  it('avg is numeric over integers and numerics, float8 over floats', async () => {
    const [want, got] = await Promise.all([ref.query('SELECT avg(amount), avg(dept), avg(rate) FROM pay'), proxy.query('SELECT avg(amount), avg(dept), avg(rate) FROM pay')]);
    expect(got.fields.map((f) => f.dataTypeID)).toEqual(want.fields.map((f) => f.dataTypeID));
    // the value, not its trailing zeros: PostgreSQL divides to 16 significant digits or more
    expect(Object.values(got.rows[0]).map(Number)).toEqual(Object.values(want.rows[0]).map(Number));
  });
});
