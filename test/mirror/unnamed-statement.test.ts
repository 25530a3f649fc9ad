// The unnamed prepared statement lasts, on PostgreSQL, until the next Parse of
// it or the next Query message, across Syncs: asyncpg with
// statement_cache_size=0 (its setting behind a pooler) parses it with a
// Describe and a Sync, then binds it in the next segment. The proxy wraps an
// autocommit write in its own BEGIN and COMMIT, sent as Query messages, which
// dropped it on the server: the client's Bind failed (26000) where PostgreSQL
// runs it. A statement the proxy's Query dropped is now parsed again there;
// the client's own Query still drops it, as directly.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { exchangeAfterLogin, execute, int16, int32, msg, query, sync } from '../proxy/raw-wire.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('unnamed_statement', 'CREATE TABLE kv (k text PRIMARY KEY, v text)');
  tp = await mirroringProxy(pair, { reads: 50 });
});
afterAll(async () => {
  await tp?.close();
});

const bindRow = (k: string) => {
  const key = Buffer.from(k);
  return msg('B', '', '', int16(0), int16(2), int32(key.length), key, int32(1), Buffer.from('x'), int16(0));
};

it('binds the unnamed statement in later segments, as PostgreSQL does, until the client sends a Query', async () => {
  const messages = (prefix: string) => [
    msg('P', '', 'INSERT INTO kv VALUES ($1, $2)', int16(0)), msg('D', Buffer.from('S'), ''), sync(),
    bindRow(`${prefix}1`), execute(), sync(),
    bindRow(`${prefix}2`), execute(), sync(),
    query('SELECT 1'),
    bindRow(`${prefix}3`), execute(), sync(),
  ];
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages('direct'), 5);
  expect(direct).toBe('1 t n Z:I 2 C:INSERT 0 1 Z:I 2 C:INSERT 0 1 Z:I T D:1 C:SELECT 1 Z:I E:26000:ERROR Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), messages('proxy'), 5)).toBe(direct);
  const keys = async (url: string) => (await sql(url, `SELECT k FROM kv WHERE k LIKE 'proxy%' ORDER BY k`)).rows.map((r) => r.k);
  expect(await keys(pair.legacyUrl)).toEqual(['proxy1', 'proxy2']);
  expect(await keys(pair.targetUrl)).toEqual(['proxy1', 'proxy2']);
});

it('a Describe of the unnamed statement ahead of a Parse of it in the same segment meets none after a Query dropped it, as directly', async () => {
  // the client's Query dropped the unnamed statement: the Describe fails (26000) and the server skips the rest;
  // the proxy replayed the segment's own later Parse ahead of it, and the Describe found that one
  const dropped = [
    msg('P', '', 'SELECT 1', int16(0)), sync(), query('SELECT 2'),
    msg('D', Buffer.from('S'), ''), msg('P', '', 'SELECT 3', int16(0)), msg('B', '', '', int16(0), int16(0), int16(0)), execute(), sync(),
  ];
  const direct = await exchangeAfterLogin(pair.legacyUrl, dropped, 3);
  expect(direct).toBe('1 Z:I T D:2 C:SELECT 1 Z:I E:26000:ERROR Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), dropped, 3)).toBe(direct);
});
