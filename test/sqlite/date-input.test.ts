// Date input on an SQLite source, as PostgreSQL 15 has it.
// Dates: a date written in another spelling than ISO ('Jan 5 2024', '1/5/2024',
// '20240105') was stored as written, so `WHERE d = '2024-01-05'` missed the
// row, and what is no date ('abc') was stored too; timestamps in those
// spellings were refused. Now every spelling date_in / timestamp_in read is
// read (numbers in the session's DateStyle order), stored as PostgreSQL prints
// it, and the rest refused with PostgreSQL's SQLSTATE and words. Compared
// with a real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { decodeTextParam, OID } from '../../proxy/sqlite/types.ts';
import { UTC_ZONE, zoneNamed } from '../../proxy/sqlite/time-zone.ts';
import { comparedPair, statementOutcome, type ComparedPair } from './mirror-harness.ts';

/** What decodeTextParam gives: the stored text, or the error's SQLSTATE, message and hint. */
function input(s: string, oid: number, zone = UTC_ZONE): unknown {
  try {
    return decodeTextParam(s, oid, zone);
  } catch (e) {
    const err = e as { code?: string; message: string; hint?: string };
    return { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  }
}

const DATESTYLE_HINT = 'Perhaps you need a different "datestyle" setting.';

// what PostgreSQL 15 answers (DateStyle 'ISO, MDY'), as the SQLite source stores it
describe('date and timestamp input, as PostgreSQL reads it', () => {
  it('reads the spellings date_in reads, and stores the date as PostgreSQL prints it', () => {
    const dates: [string, string][] = [
      ['Jan 5 2024', '2024-01-05'],
      ['January 5, 2024', '2024-01-05'],
      ['5 Jan 2024', '2024-01-05'],
      ['Friday, January 5, 2024', '2024-01-05'],
      ['1/5/2024', '2024-01-05'],
      ['1/5/24', '2024-01-05'],
      ['01.05.2024', '2024-01-05'],
      ['20240105', '2024-01-05'],
      ['2024.005', '2024-01-05'],
      ['J2460315', '2024-01-05'],
      ['2024-01-05 10:00', '2024-01-05'],
      ['2024-01-05T23:30:00-08', '2024-01-05'],
      ['epoch', '1970-01-01'],
      ['Infinity', 'infinity'],
      [' -INFINITY ', '-infinity'],
      ['January 8, 99 BC', '0099-01-08 BC'],
    ];
    for (const [s, want] of dates) expect(input(s, OID.date), s).toBe(want);
  });

  it('refuses what date_in refuses, with its SQLSTATE, message and hint', () => {
    const refused: [string, object][] = [
      ['abc', { code: '22007', message: 'invalid input syntax for type date: "abc"' }],
      ['Jan 5', { code: '22007', message: 'invalid input syntax for type date: "Jan 5"' }],
      ['2024-01-05 10:00 xyz', { code: '22007', message: 'invalid input syntax for type date: "2024-01-05 10:00 xyz"' }],
      ['2024-02-30 10:00', { code: '22008', message: 'date/time field value out of range: "2024-02-30 10:00"' }],
      ['13/1/2024', { code: '22008', message: 'date/time field value out of range: "13/1/2024"', hint: DATESTYLE_HINT }],
      ['5874898-01-01', { code: '22008', message: 'date out of range: "5874898-01-01"' }],
      ['2024-01-05 10:00 Mars/Olympus', { code: '22023', message: 'time zone "mars/olympus" not recognized' }],
    ];
    for (const [s, want] of refused) expect(input(s, OID.date), s).toEqual(want);
  });

  it('reads timestamps in those spellings, a timestamptz in the zone it names or the session\'s', () => {
    const ny = zoneNamed('America/New_York');
    const read: [string, number, string, typeof UTC_ZONE?][] = [
      ['Jan 5 2024 10:00', OID.timestamp, '2024-01-05 10:00:00'],
      ['1/5/2024 10:00 pm', OID.timestamp, '2024-01-05 22:00:00'],
      ['20240105T100000', OID.timestamp, '2024-01-05 10:00:00'],
      ['2024-01-05 23:59:60', OID.timestamp, '2024-01-06 00:00:00'],
      ['January 5, 2024 10:00 PST', OID.timestamptz, '2024-01-05 18:00:00'],
      ['2024-01-05 10:00 -8', OID.timestamptz, '2024-01-05 18:00:00'],
      ['Jan 5 2024 10:00', OID.timestamptz, '2024-01-05 15:00:00', ny],
      ['Jan 5 2024 10:00 Europe/Paris', OID.timestamptz, '2024-01-05 09:00:00', ny],
    ];
    for (const [s, oid, want, zone] of read) expect(input(s, oid, zone), s).toBe(want);
  });

  it('refuses what timestamp input refuses, worded as PostgreSQL words it', () => {
    const refused: [string, number, object][] = [
      ['2024-01-05 10:61', OID.timestamp, { code: '22008', message: 'date/time field value out of range: "2024-01-05 10:61"' }],
      ['abc', OID.timestamp, { code: '22007', message: 'invalid input syntax for type timestamp: "abc"' }],
      ['+infinity', OID.timestamptz, { code: '22007', message: 'invalid input syntax for type timestamp with time zone: "+infinity"' }],
      ['2024-01-05 10:00 +16:00', OID.timestamptz, { code: '22009', message: 'time zone displacement out of range: "2024-01-05 10:00 +16:00"' }],
      ['294277-01-01 00:00:00', OID.timestamp, { code: '22008', message: 'timestamp out of range: "294277-01-01 00:00:00"' }],
    ];
    for (const [s, oid, want] of refused) expect(input(s, oid), s).toEqual(want);
  });
});

const SCHEMA = `CREATE TABLE t (id INTEGER PRIMARY KEY, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, name TEXT)`;
const PG_SCHEMA = `CREATE TABLE t (id bigint PRIMARY KEY, d date, ts timestamp, tz timestamptz, name text)`;

let pair: ComparedPair;

beforeAll(async () => {
  pair = await comparedPair('sqlite_date_input', SCHEMA, [PG_SCHEMA]);
});
afterAll(async () => {
  await pair?.close();
});

const both = async (text: string, params?: unknown[], ref: pg.Client = pair.ref) => {
  const [got, want] = [await statementOutcome(pair.proxy, text, params), await statementOutcome(ref, text, params)];
  expect(got, text).toEqual(want);
};

/** The stored values of column `col` in the SQLite file, by id. */
function fileValues(col: string, ids: number[]): unknown[] {
  const db = new Database(pair.mirror.file, { readonly: true });
  try {
    return ids.map((id) => db.prepare(`SELECT ${col} FROM t WHERE id = ?`).pluck().get(id));
  } finally {
    db.close();
  }
}

describe('SQLite source: date input and case mapping, compared with PostgreSQL', () => {
  it('stores a date written in any spelling as the date it is, so a comparison finds it', async () => {
    await both('INSERT INTO t (id, d) VALUES (90, $1) RETURNING d', ['Jan 5 2024']);
    await both(`INSERT INTO t (id, d) VALUES (91, '1/6/2024'), (92, 'January 7, 2024') RETURNING d`);
    expect(fileValues('d', [90, 91, 92])).toEqual(['2024-01-05', '2024-01-06', '2024-01-07']);
    await both(`SELECT id FROM t WHERE d = '2024-01-05'`);
    await both(`SELECT id FROM t WHERE d BETWEEN '2024-01-06' AND 'Jan 7 2024' ORDER BY id`);
    await both(`SELECT '1/5/2024'::date AS a, '20240105'::date AS b, 'epoch'::date AS c, 'Infinity'::date AS e`);
    await both(`SELECT 'abc'::date AS d`);
    await both('SELECT $1::date AS d', ['13/1/2024']);
    await both(`INSERT INTO t (id, d) VALUES (93, 'Jan 32 2024')`);
  });

  it('reads timestamps in those spellings, in the zone they name', async () => {
    await both(`SELECT 'Jan 5 2024 10:00'::timestamp AS a, '1/5/2024 10:00 PM'::timestamp AS b`);
    await both('INSERT INTO t (id, ts, tz) VALUES ($1, $2, $3) RETURNING ts, tz', [94, 'Jan 5 2024 10:00', 'January 5, 2024 10:00 PST']);
    await both(`SELECT '2024-01-05 10:61'::timestamp AS t`);
    await both('SELECT $1::timestamptz AS t', ['2024-01-05 10:00 +16:00']);
  });

  it("reads numeric dates in the session's DateStyle order", async () => {
    for (const c of [pair.proxy, pair.ref]) await c.query(`SET DateStyle = 'ISO, DMY'`);
    await both(`SELECT '1/5/2024'::date AS a, $1::date AS b, '13/1/2024'::date AS c`, ['2/5/2024']);
    await both(`INSERT INTO t (id, d) VALUES (95, '3/5/2024') RETURNING d`);
    await both('SELECT $1::date AS d', ['1/13/2024']);
    for (const c of [pair.proxy, pair.ref]) await c.query(`SET DateStyle = 'ISO, YMD'`);
    await both(`SELECT '24/1/5'::date AS a, $1::timestamp AS b`, ['24/1/5 10:00']);
    for (const c of [pair.proxy, pair.ref]) await c.query('RESET DateStyle');
  });

  it("reads 'today' and its neighbours as the session's day when the statement runs", async () => {
    for (const c of [pair.proxy, pair.ref]) await c.query(`SET TIME ZONE 'Pacific/Kiritimati'`);
    await both(`SELECT 'today'::date = CURRENT_DATE AS a, 'yesterday'::date < CURRENT_DATE AS b, 'tomorrow'::date > CURRENT_DATE AS c`);
    await both('SELECT $1::date = CURRENT_DATE AS a', ['today']);
    for (const c of [pair.proxy, pair.ref]) await c.query('RESET TimeZone');
  });
});
