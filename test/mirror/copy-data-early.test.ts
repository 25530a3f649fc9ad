// A client may send COPY FROM STDIN's rows right behind the statement, without
// waiting for CopyInResponse (asyncpg's copy_records_to_table does): the
// server reads them in order once it is in COPY mode. The relay wrote them to
// the source at once, also while the COPY still waited its turn behind an
// earlier request, so the server got the rows first and ignored them (outside
// COPY), then waited for rows that never came: 18 of 30 asyncpg copies hung
// through the proxy. They now wait behind the COPY and go once it has begun,
// or, if it failed before it began, once what came before them was sent, for
// the server to ignore as it would have.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { exchangeAfterLogin, msg, query } from '../proxy/raw-wire.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('copy_data_early', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
  tp = await mirroringProxy(pair, { reads: 50 });
});
afterAll(async () => {
  await tp?.close();
});

const rows = (from: number) => Buffer.from(`${from}\ta\n${from + 1}\tb\n`);
const ids = async (url: string) => (await sql(url, 'SELECT id FROM t ORDER BY id')).rows.map((r) => r.id as number);

it('rows sent behind a COPY that waits behind a slow statement reach it, in one packet, as directly', async () => {
  // the direct run copies into a table of its own on the new database's server, so the mirror is compared alone
  await sql(pair.targetUrl, 'CREATE TABLE t_direct (id int PRIMARY KEY, v text)');
  const packet = (table: string, from: number) => [query('SELECT pg_sleep(0.3)'), query(`COPY ${table} FROM STDIN`), msg('d', rows(from)), msg('c'), query(`SELECT count(*) FROM ${table}`)];
  const direct = await exchangeAfterLogin(pair.targetUrl, packet('t_direct', 1), 3);
  expect(direct).toMatch(/^T D:\S* C:SELECT 1 Z:I G C:COPY 2 Z:I T D:2 C:SELECT 1 Z:I$/);
  expect(await exchangeAfterLogin(tp.url(pair.name), packet('t', 1), 3)).toBe(direct);
  expect(await ids(pair.legacyUrl)).toEqual([1, 2]);
  expect(await ids(pair.targetUrl)).toEqual([1, 2]);
});

it('rows behind a COPY that fails before it starts are ignored; the next COPY in the same packet gets its own', async () => {
  await sql(pair.targetUrl, 'TRUNCATE t_direct');
  const packet = (table: string) => [
    query('SELECT pg_sleep(0.2)'), query('COPY missing_table FROM STDIN'), msg('d', rows(10)), msg('c'),
    query(`COPY ${table} FROM STDIN`), msg('d', rows(20)), msg('c'),
    query('BEGIN'), query(`COPY ${table} FROM STDIN`), msg('d', rows(30)), msg('c'), query('COMMIT'),
  ];
  const direct = await exchangeAfterLogin(pair.targetUrl, packet('t_direct'), 6);
  expect(direct).toMatch(/^T D:\S* C:SELECT 1 Z:I E:42P01:ERROR Z:I G C:COPY 2 Z:I C:BEGIN Z:T G C:COPY 2 Z:T C:COMMIT Z:I$/);
  expect(await exchangeAfterLogin(tp.url(pair.name), packet('t'), 6)).toBe(direct);
  expect(await ids(pair.legacyUrl)).toEqual([1, 2, 20, 21, 30, 31]);
  expect(await ids(pair.targetUrl)).toEqual([1, 2, 20, 21, 30, 31]);
});
