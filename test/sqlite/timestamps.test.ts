// Timestamps through the SQLite source: stored in one spelling whatever form
// the client wrote them in (literal, text parameter with a zone, a Date from
// node-postgres, INSERT with or without a column list, now()), read back as
// PostgreSQL prints them, and compared as PostgreSQL compares them, in =, <,
// BETWEEN and IN with parameters and constants. Every statement is run on a
// real PostgreSQL too (session time zone UTC, as the SQLite source keeps it)
// and the answers compared. Before: '2024-01-05 10:00:00+00', a Date's
// '2024-01-06T11:00:00.000+01:00' and now()'s '….820' were stored as written,
// so `at = $1` found nothing and `at BETWEEN $1 AND $2` missed rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import Database from 'better-sqlite3';
import { sql } from '../harness/databases.ts';
import { comparedPair, resultsOrError, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE ev (id INTEGER PRIMARY KEY, at TIMESTAMPTZ, t TIMESTAMP, d DATE, ok BOOLEAN)`;
const PG_SCHEMA = `CREATE TABLE ev (id bigint PRIMARY KEY, at timestamptz, t timestamp, d date, ok boolean)`;

let pair: ComparedPair;
let proxy: pg.Client;
let ref: pg.Client;

async function outcome(c: pg.Client, text: string, params?: unknown[]): Promise<unknown> {
  const r = await resultsOrError(c, text, params);
  return Array.isArray(r) ? { rows: r[0]!.rows } : { code: r.code };
}

/** The statement on both, the same answer expected; the answer. */
async function both(text: string, params?: unknown[]): Promise<unknown> {
  const want = await outcome(ref, text, params);
  expect(await outcome(proxy, text, params), text).toEqual(want);
  return want;
}

beforeAll(async () => {
  pair = await comparedPair('sqlite_timestamps', SCHEMA, [PG_SCHEMA]);
  ({ proxy, ref } = pair);
  await ref.query(`SET TimeZone = 'UTC'`);
});
afterAll(() => pair?.close());

describe('SQLite source: timestamps', () => {
  it('are stored in one spelling however they were written, and read back as PostgreSQL prints them', async () => {
    await both(`INSERT INTO ev VALUES (1, '2024-01-05 10:00:00+00', '2024-01-05 10:00:00', '2024-01-05', true)`);
    // a Date, as node-postgres sends it: local time with its offset
    await both('INSERT INTO ev VALUES ($1, $2, $3, $4, $5)', [2, '2024-01-06T11:00:00.000+01:00', '2024-01-06T10:00:00.000+01:00', '2024-1-6', 't']);
    await both('INSERT INTO ev (id, at, t) VALUES ($1, $2, $3)', [3, '2024-01-05T10:00:00.500Z', '2024-01-05 10:00:00.250']);
    await both(`INSERT INTO ev (id, at, t) VALUES (4, '2024-01-07 12:30:00.120000-02:30', '2024-01-07T12:30')`);
    await both(`UPDATE ev SET t = $1 WHERE id = 4`, ['2024-01-07 12:30:00.000001']);
    await both(`INSERT INTO ev (id, at, t) VALUES (5, 'infinity', '-infinity')`);
    const stored = new Database(pair.mirror.file, { readonly: true });
    try {
      expect(stored.prepare('SELECT id, at, t FROM ev ORDER BY id').raw().all()).toEqual([
        [1, '2024-01-05 10:00:00', '2024-01-05 10:00:00'],
        [2, '2024-01-06 10:00:00', '2024-01-06 10:00:00'],
        [3, '2024-01-05 10:00:00.5', '2024-01-05 10:00:00.25'],
        [4, '2024-01-07 15:00:00.12', '2024-01-07 12:30:00.000001'],
        [5, 'infinity', '-infinity'],
      ]);
    } finally {
      stored.close();
    }
    await both('SELECT id, at, t, d FROM ev ORDER BY id');
    await both('SELECT id, at FROM ev ORDER BY at, id');
  });

  it('compare as PostgreSQL compares them, with parameters and constants', async () => {
    await both('SELECT id FROM ev WHERE at = $1 ORDER BY id', ['2024-01-05 10:00:00+00']);
    await both('SELECT id FROM ev WHERE at = $1 ORDER BY id', ['2024-01-05T11:00:00.000+01:00']);
    await both('SELECT id FROM ev WHERE at = $1 ORDER BY id', ['2024-01-05 10:00:00.500']);
    await both('SELECT id FROM ev WHERE at >= $1 ORDER BY id', ['2024-01-06T10:00:00.000Z']);
    await both('SELECT id FROM ev WHERE at < $1 ORDER BY id', ['2024-01-05T10:00:00.4Z']);
    await both('SELECT id FROM ev WHERE at BETWEEN $1 AND $2 ORDER BY id', ['2024-01-05T11:00:00.000+01:00', '2024-01-06T11:00:00.000+01:00']);
    await both('SELECT id FROM ev WHERE at NOT BETWEEN $1 AND $2 ORDER BY id', ['2024-01-05T11:00:00.000+01:00', '2024-01-06T11:00:00.000+01:00']);
    await both('SELECT id FROM ev WHERE at IN ($1, $2) ORDER BY id', ['2024-01-06 10:00:00Z', '2024-01-05 10:00:00.5+00']);
    await both(`SELECT id FROM ev WHERE t > '2024-01-05T10:00:00' ORDER BY id`);
    await both(`SELECT id FROM ev WHERE at IN ('2024-01-05 11:00:00+01', '2024-01-06T10:00:00Z') ORDER BY id`);
    await both(`SELECT id FROM ev WHERE d = '2024-1-6'`);
    // a parameter compared through a table alias of a join, and one NOT applies to
    await both('SELECT a.id FROM ev a JOIN ev b ON b.id = a.id WHERE a.at = $1', ['2024-01-06T10:00:00Z']);
    await both('SELECT id FROM ev WHERE ok = NOT $1 ORDER BY id', [false]);
  });

  it('of now() sort among the written ones, and bad input is refused as PostgreSQL refuses it', async () => {
    await both('INSERT INTO ev (id, at) VALUES (6, now())');
    const [now] = (await proxy.query<{ at: string }>('SELECT at FROM ev WHERE id = 6')).rows;
    expect(now!.at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{0,5}[1-9])?\+00$/);
    await both('SELECT id FROM ev WHERE at > $1 AND at <= now() ORDER BY id', ['2024-01-06T10:00:00Z']);
    await both('SELECT id FROM ev WHERE at < now() ORDER BY at');
    await both(`INSERT INTO ev (id, at) VALUES (7, '2024-02-30 10:00')`);
    await both('INSERT INTO ev (id, at) VALUES ($1, $2)', [7, 'soon']);
    await both('SELECT count(*) FROM ev');
    // constants cast: in the form PostgreSQL prints
    await both(`SELECT '2024-01-05T10:11:12.5'::timestamp, '2024-01-05 12:00:00+02'::timestamptz, '2024-01-05 10:00:00.123456789'::timestamp, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid`);
  });

  it('of now() are the transaction\'s start, as PostgreSQL\'s', async () => {
    const now = async () => (await proxy.query<{ n: string; s: string }>('SELECT now() AS n, statement_timestamp() AS s')).rows[0]!;
    await proxy.query('BEGIN');
    const first = await now();
    await new Promise((r) => setTimeout(r, 30));
    await proxy.query('INSERT INTO ev (id, at, t) VALUES (8, now(), CURRENT_TIMESTAMP), (9, now(), LOCALTIMESTAMP)');
    const second = await now();
    await proxy.query('COMMIT');
    expect(second.n).toBe(first.n);
    expect(second.s > first.s).toBe(true);
    const rows = (await proxy.query<{ at: string; t: string }>('SELECT at, t FROM ev WHERE id IN (8, 9)')).rows;
    expect(rows.map((r) => r.at)).toEqual([first.n, first.n]);
    expect(rows.map((r) => `${r.t}+00`)).toEqual([first.n, first.n]);
    // the next transaction has its own
    await new Promise((r) => setTimeout(r, 5));
    expect((await now()).n > first.n).toBe(true);
    await proxy.query('DELETE FROM ev WHERE id IN (8, 9)');
  });

  it('reach the mirror as the same instants', async () => {
    // mirrored before each COMMIT was answered
    const text = `SELECT id, (at AT TIME ZONE 'UTC')::text AS at, t::text, d::text FROM ev ORDER BY id`;
    const mirrored = (await sql(pair.mirror.targetUrl, text)).rows;
    // now() is the proxy's own instant (id 6), the rest as PostgreSQL stored them
    expect(mirrored.filter((r) => r.id !== '6')).toEqual((await ref.query(text)).rows.filter((r) => r.id !== '6'));
    const [now] = (await proxy.query<{ at: string }>('SELECT at FROM ev WHERE id = 6')).rows;
    expect(`${mirrored.find((r) => r.id === '6')?.at}+00`).toBe(now!.at);
  });
});
