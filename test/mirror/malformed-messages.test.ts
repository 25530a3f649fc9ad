// A message whose body does not read as its type says (a string without its
// NUL, a count past the end, bytes left over) is an ERROR to PostgreSQL 15,
// not the end of the session: it answers 08P01, skips to the next Sync in the
// extended protocol, and carries on. The mirroring relay read such bodies
// itself and closed the session with a FATAL. A Close, Describe, Execute,
// Flush or Sync over 10,000 bytes is the one case the server ends the session.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DbPair } from '../harness/databases.ts';
import { sql } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { bind, exchangeAfterLogin, execute, int16, int32, msg, parse, query, sync } from '../proxy/raw-wire.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('malformed_messages', 'CREATE TABLE items (id int PRIMARY KEY);');
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

/** A message of `type` with exactly `body` after its length. */
function raw(type: string, body: Buffer | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(4 + b.length, 1);
  return Buffer.concat([head, b]);
}

/** What comes after the broken request: the session is still there, in the state it should be in. */
const AFTER = query('SELECT 7');

it.each<[string, Buffer[]]>([
  ['a Parse without the NUL of its text', [raw('P', '\0SELECT 1'), sync()]],
  ['a Parse cut short in its parameter count', [raw('P', '\0SELECT 1\0\0'), sync()]],
  ['a Parse without the parameter types it counts', [raw('P', Buffer.concat([Buffer.from('\0SELECT $1\0'), int16(1)])), sync()]],
  ['a Parse with bytes left over, then a Bind and Execute of it', [raw('P', Buffer.concat([Buffer.from('s1\0SELECT 1\0'), int16(0), Buffer.from('xx')])), msg('B', '', 's1', int16(0), int16(0), int16(0)), execute(), sync()]],
  ['a Bind cut short', [parse('SELECT 1'), raw('B', '\0\0\0'), execute(), sync()]],
  ['a Bind with bytes left over', [parse('SELECT 1'), raw('B', Buffer.concat([Buffer.from('\0\0'), int16(0), int16(0), int16(0), Buffer.from('z')])), execute(), sync()]],
  ['an empty Describe', [parse('SELECT 1'), raw('D', ''), sync()]],
  ['a Describe of an unknown kind', [parse('SELECT 1'), raw('D', 'X\0'), sync()]],
  ['a Describe with bytes left over', [parse('SELECT 1'), raw('D', 'S\0zz'), sync()]],
  ['a Describe without the NUL of its name', [parse('SELECT 1'), raw('D', 'Sabc'), sync()]],
  ['a Close of an unknown kind', [raw('C', 'X\0'), sync()]],
  ['a Close with bytes left over', [raw('C', 'S\0zz'), sync()]],
  ['an Execute cut short', [parse('SELECT 1'), bind(), raw('E', '\0\0\0'), sync()]],
  ['an Execute with bytes left over', [parse('SELECT 1'), bind(), raw('E', Buffer.concat([Buffer.from('\0'), int32(0), Buffer.from('z')])), sync()]],
  ['a Sync with a body', [parse('SELECT 1'), bind(), execute(), raw('S', 'z')]],
  ['a Flush with a body', [parse('SELECT 1'), raw('H', 'z'), sync()]],
  ['a Query without its NUL', [raw('Q', 'SELECT 1')]],
  ['a Query with bytes after its NUL', [raw('Q', 'SELECT 1\0zz')]],
  ['a bad Parse inside a transaction block', [query('BEGIN'), raw('P', '\0SELECT 1'), sync(), query('ROLLBACK')]],
  // well-formed bodies the statement does not fit (the server's 08P01 too): a read routed to the new database
  // failed there, counted against it, and was retried on the source
  ['a Bind with two parameter formats for one value', [parse('SELECT $1::int'), msg('B', '', '', int16(2), int16(0), int16(0), int16(1), int32(1), Buffer.from('1'), int16(0)), execute(), sync()]],
  ['a Bind without the value its statement takes', [parse('SELECT $1::int'), bind(), execute(), sync()]],
])('%s: an ERROR 08P01 and the session carries on, as directly', async (_, messages) => {
  const readies = messages.filter((m) => m[0] === 0x51 || m[0] === 0x53).length + 1;
  const direct = await exchangeAfterLogin(pair.legacyUrl, [...messages, AFTER], readies);
  expect(direct).toMatch(/E:08P01:ERROR .*T D:7 C:SELECT 1 Z:I$/);
  const targetErrors = tp.proxy.guard!.stats.readErrors;
  expect(await exchangeAfterLogin(tp.url(pair.name), [...messages, AFTER], readies)).toBe(direct);
  // the client's mistake, not the new database's: nothing counted against it
  expect(tp.proxy.guard!.stats.readErrors).toBe(targetErrors);
});

it('a write before a malformed message in its segment is rolled back with it, as directly', async () => {
  const insert = (id: number) => [parse(`INSERT INTO items VALUES (${id})`), bind(), execute()];
  const direct = await exchangeAfterLogin(pair.legacyUrl, [...insert(1), raw('D', 'X\0'), sync(), AFTER], 2);
  expect(await exchangeAfterLogin(tp.url(pair.name), [...insert(2), raw('D', 'X\0'), sync(), AFTER], 2)).toBe(direct);
  expect((await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(0);
  // a Sync with a body fails the implicit transaction it would have committed
  const viaSync = await exchangeAfterLogin(tp.url(pair.name), [...insert(3), raw('S', 'z'), AFTER], 2);
  expect(viaSync).toBe(await exchangeAfterLogin(pair.legacyUrl, [...insert(4), raw('S', 'z'), AFTER], 2));
  expect((await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(0);
  expect((await sql(pair.targetUrl, 'SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(0);
});

it('a Describe over 10,000 bytes ends the session, as the server ends it', async () => {
  const huge = raw('D', Buffer.concat([Buffer.from('S'), Buffer.alloc(20_000, 97), Buffer.from('\0')]));
  expect(await exchangeAfterLogin(pair.legacyUrl, [parse('SELECT 1'), huge, sync(), AFTER], 2)).toBe('[closed]');
  expect(await exchangeAfterLogin(tp.url(pair.name), [parse('SELECT 1'), huge, sync(), AFTER], 2)).toMatch(/^(E:08P01:FATAL )?\[closed\]$/);
});

it('the 08P01 comes before the Sync, as the server sends it (a client may wait for it before syncing)', async () => {
  // no Sync: read until the exchange times out, what came back by then is all the client has
  const write = [parse('INSERT INTO items VALUES (9)'), bind(), execute()];
  const unsynced = [parse('SELECT 1'), bind(), raw('D', 'X\0'), execute(), msg('H')];
  const direct = await exchangeAfterLogin(pair.legacyUrl, unsynced, 1);
  expect(direct).toBe('1 2 E:08P01:ERROR');
  expect(await exchangeAfterLogin(tp.url(pair.name), unsynced, 1)).toBe(direct);
  expect(await exchangeAfterLogin(tp.url(pair.name), [...write, raw('D', 'X\0'), msg('H')], 1)).toBe(await exchangeAfterLogin(pair.legacyUrl, [...write, raw('D', 'X\0'), msg('H')], 1));
  expect((await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(0);
});
