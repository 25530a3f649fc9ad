// The keys of a failed mirror apply are recorded dirty on the client's own
// connection, by a statement the proxy wrote as UTF-8. On a LATIN1 session the
// server read its bytes as LATIN1: 'café' was recorded as 'cafÃ©', a key the
// source does not have, so the drainer deleted it on the new database and the
// real row was never re-synced. The statement now carries such characters as
// JSON escapes, the same in every encoding.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, proxyWithoutDrainer } from './mirrored-pair.ts';
import { exchangeAfterLogin, msg, query } from '../proxy/raw-wire.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_encoding_dirty', 'CREATE TABLE k (name text PRIMARY KEY, v int NOT NULL);');
  // the new database refuses the row: the apply fails and the key is recorded dirty
  await sql(pair.targetUrl, 'ALTER TABLE k ADD CONSTRAINT small CHECK (v < 100)');
  tp = await proxyWithoutDrainer(pair);
});
afterAll(async () => {
  await tp?.close();
});

const latin1Query = (text: string) => msg('Q', Buffer.from(text + '\0', 'latin1'));

it.each([
  ['autocommit', [latin1Query("INSERT INTO k VALUES ('café', 500)")], 'café'],
  ['in a transaction', [query('BEGIN'), latin1Query("INSERT INTO k VALUES ('naïve', 500)"), query('COMMIT')], 'naïve'],
])("a LATIN1 session's dirty key is recorded as the source has it (%s)", async (_, messages, name) => {
  const words = await exchangeAfterLogin(tp.url(pair.name), [query("SET client_encoding = 'LATIN1'"), ...messages], 1 + messages.length);
  expect(words).not.toContain('E:');
  expect((await sql(pair.legacyUrl, 'SELECT name FROM k WHERE v = 500 AND name = $1', [name])).rows).toHaveLength(1);
  const recorded = (await sql(pair.legacyUrl, `SELECT pk->>'name' AS name FROM cutover.changes WHERE op = 'R' AND pk->>'name' = $1`, [name])).rows;
  expect(recorded).toEqual([{ name }]);
});
