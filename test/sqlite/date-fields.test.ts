// date_trunc, date_part and EXTRACT on an SQLite source answer as PostgreSQL
// does, compared with a real server: every unit, over date, timestamp and
// timestamptz columns and casts, in UTC and in a zone with DST and a
// half-hour offset, grouped as reports group by them. Before, each was
// refused (0A000), and with them the usual report query.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparedPair, statementOutcome, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE ev (id INTEGER PRIMARY KEY, at TIMESTAMPTZ, local TIMESTAMP, day DATE, amount INTEGER)`;
const PG_SCHEMA = `CREATE TABLE ev (id bigint PRIMARY KEY, at timestamptz, local timestamp, day date, amount bigint)`;
const ROWS = `INSERT INTO ev VALUES
  (1, '2024-03-10 23:30:05.25+00', '2024-03-10 23:30:05.25', '2024-03-10', 10),
  (2, '2024-03-31 01:59:59.999999+00', '2024-03-31 01:59:59.999999', '2024-03-31', 20),
  (3, '2023-12-31 23:59:59+00', '2023-12-31 23:59:59', '2023-12-31', 30),
  (4, '2001-01-01 00:00:00+00', '2001-01-01 00:00:00', '2001-01-01', 40),
  (5, '1999-07-04 12:00:00.000001+00', '1999-07-04 12:00:00.000001', '1999-07-04', 50),
  (6, NULL, NULL, NULL, 60)`;

const TRUNC_UNITS = ['microseconds', 'milliseconds', 'second', 'minute', 'hour', 'day', 'week', 'month', 'quarter', 'year', 'decade', 'century', 'millennium'];
const PART_UNITS = ['microseconds', 'milliseconds', 'second', 'minute', 'hour', 'day', 'dow', 'isodow', 'doy', 'week', 'isoyear', 'month', 'quarter', 'year', 'decade', 'century', 'millennium', 'epoch'];
const DATE_UNITS = ['day', 'dow', 'isodow', 'doy', 'week', 'isoyear', 'month', 'quarter', 'year', 'decade', 'century', 'millennium', 'epoch'];

let pair: ComparedPair;

beforeAll(async () => {
  pair = await comparedPair('sqlite_date_fields', SCHEMA, [PG_SCHEMA, ROWS]);
  await pair.proxy.query(ROWS);
});
afterAll(() => pair?.close());

const both = async (text: string) => expect(await statementOutcome(pair.proxy, text), text).toEqual(await statementOutcome(pair.ref, text));

describe('SQLite source: date_trunc, date_part and EXTRACT', () => {
  for (const zone of ['UTC', 'Europe/Paris', 'Asia/Kolkata']) {
    it(`answer as PostgreSQL does in ${zone}`, async () => {
      await both(`SET TIME ZONE '${zone}'`);
      for (const u of TRUNC_UNITS) await both(`SELECT id, date_trunc('${u}', at) AS a, date_trunc('${u}', local) AS l FROM ev ORDER BY id`);
      await both(`SELECT id, date_trunc('month', day) AS d, date_trunc('week', day::timestamp) AS w FROM ev ORDER BY id`);
      for (const u of PART_UNITS) {
        await both(`SELECT id, extract(${u} FROM at) AS a, extract(${u} FROM local) AS l, date_part('${u}', at) AS pa, date_part('${u}', local) AS pl FROM ev ORDER BY id`);
      }
      for (const u of DATE_UNITS) await both(`SELECT id, extract(${u} FROM day) AS d FROM ev ORDER BY id`);
      for (const u of ['timezone', 'timezone_hour', 'timezone_minute']) await both(`SELECT id, extract(${u} FROM at) AS z FROM ev ORDER BY id`);
      // the report: totals by local month and by day
      await both(`SELECT date_trunc('month', at) AS m, sum(amount) AS total FROM ev WHERE at IS NOT NULL GROUP BY 1 ORDER BY 1`);
      await both(`SELECT extract(year FROM at) AS y, count(*) AS n FROM ev GROUP BY 1 ORDER BY 1 NULLS FIRST`);
      // a constant compared with a date-time expression is a value of its type, read in the session's zone
      await both(`SELECT id FROM ev WHERE date_trunc('day', at) = '2024-03-10 00:00:00+00' ORDER BY id`);
      await both(`SELECT id FROM ev WHERE date_trunc('day', local) >= '2024-03-10' ORDER BY id`);
      await both(`SELECT now() > '2024-01-01' AS a, '2024-01-01 05:00' < now() AS b`);
      await both(`SELECT extract(year FROM at) AS y FROM ev GROUP BY 1 HAVING max(at) > '2001-01-01 03:00' AND sum(amount) > '15' ORDER BY 1`);
      await both(`SELECT date_trunc('hour', '2024-03-10 10:45:00'::timestamptz) AS h, extract(minute FROM '2024-03-10 10:45:00'::timestamp) AS m`);
    });
  }

  it('refuses what PostgreSQL refuses, with its SQLSTATE', async () => {
    await both(`SET TIME ZONE 'UTC'`);
    for (const text of [
      `SELECT date_trunc('fortnight', at) FROM ev`,
      `SELECT extract(fortnight FROM local) FROM ev`,
      `SELECT extract(hour FROM day) FROM ev`,
      `SELECT extract(timezone FROM local) FROM ev`,
      `SELECT date_trunc('day', '2024-03-10 10:00')`,
    ]) {
      const got = (await statementOutcome(pair.proxy, text)) as { code?: string };
      const want = (await statementOutcome(pair.ref, text)) as { code?: string };
      expect(got.code, text).toBe(want.code);
      expect(got.code, text).toMatch(/^(22023|0A000|42725)$/);
    }
  });
});
