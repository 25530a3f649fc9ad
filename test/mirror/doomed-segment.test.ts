// A segment whose Parse reuses a name in use (42P05): the server runs what came
// before it, fails it, and skips the rest up to the Sync. The relay stops
// reading such a segment at that Parse; one with transaction control before it
// that runs in pieces (txn-split.ts) then met Executes it had not read, and the
// session ended with an internal error (XX000 FATAL). Compared with PostgreSQL.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { bind, exchangeAfterLogin, execute, int16, msg, query, sync } from '../proxy/raw-wire.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('doomed_segment', 'CREATE TABLE t (id int PRIMARY KEY)');
  tp = await mirroringProxy(pair, { reads: 0 });
});
afterAll(async () => {
  await tp?.close();
});

it('ROLLBACK executed in pieces ahead of a Parse of a name in use: the Parse fails, the rest is skipped, the session goes on', async () => {
  const bindS1 = msg('B', 'p1', 's1', int16(0), int16(0), int16(0));
  const messages = [
    msg('P', 's1', 'ROLLBACK', int16(0)), msg('P', 's2', 'SELECT 5', int16(0)), sync(),
    query('BEGIN'), query('SELECT 1/0'),
    bindS1, msg('E', 'p1', Buffer.from([0, 0, 0, 0])), msg('B', '', 's2', int16(0), int16(0), int16(0)), execute(),
    msg('P', 's1', 'SELECT 1', int16(0)), bind(), execute(), sync(),
    query('SELECT 2'),
  ];
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, 5);
  expect(direct).toBe('1 1 Z:I C:BEGIN Z:T E:22012:ERROR Z:E 2 C:ROLLBACK 2 D:5 C:SELECT 1 E:42P05:ERROR Z:I T D:2 C:SELECT 1 Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, 5)).toBe(direct);
});
