// What a prepared statement's name means is the server's to say: a Parse of a
// name in use fails (42P05) and leaves the statement as it was, and a Parse
// that failed (an aborted transaction, a syntax error) made nothing. The
// mirroring proxy, which parses a session's statements again on whichever
// connection lacks them, took every Parse for a success: a name made on the
// new database only was parsed anew on the source without the 42P05, and a
// statement the source refused in an aborted transaction was parsed again on
// the new database and ran, where PostgreSQL answers 26000.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { exchangeAfterLogin, execute, int16, msg, query, sync } from '../proxy/raw-wire.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('statement_names', 'CREATE TABLE items (id int PRIMARY KEY)');
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

const parseAs = (name: string, text: string) => msg('P', name, text, int16(0));
const bindOf = (name: string) => msg('B', '', name, int16(0), int16(0), int16(0));

it('a Parse of a name in use fails 42P05 wherever the segment runs, and the name keeps its statement, as directly', async () => {
  const messages = [
    // a read: parsed on the new database
    parseAs('s1', 'SELECT 1'), bindOf('s1'), execute(), sync(),
    // no Execute: the source's, where s1 was never parsed
    parseAs('s1', 'SELECT 2'), sync(),
    bindOf('s1'), execute(), sync(),
  ];
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, 3);
  expect(direct).toBe('1 2 D:1 C:SELECT 1 Z:I E:42P05:ERROR Z:I 2 D:1 C:SELECT 1 Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, 3)).toBe(direct);
});

it('a statement whose Parse failed in an aborted transaction is not there afterwards, on either database, as directly', async () => {
  const errors = tp.proxy.guard!.stats.readErrors;
  const messages = [
    query('BEGIN'), query('SELECT 1/0'),
    parseAs('s3', 'SELECT 3'), sync(),
    query('ROLLBACK'),
    bindOf('s3'), execute(), sync(),
  ];
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, 5);
  expect(direct).toBe('C:BEGIN Z:T E:22012:ERROR Z:E E:25P02:ERROR Z:E C:ROLLBACK Z:I E:26000:ERROR Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, 5)).toBe(direct);
  expect(tp.proxy.guard!.stats.readErrors).toBe(errors);
});

it('a Parse skipped after an error in its segment leaves the name as it was, as directly', async () => {
  const messages = [
    parseAs('', 'SELECT 5'), parseAs('s5', 'SELECT 6'), sync(),
    // 42P05, then the server skips to the Sync: the unnamed statement stays SELECT 5
    parseAs('s5', 'SELECT 7'), parseAs('', 'SELECT 8'), msg('H'),
    parseAs('', 'SELECT 9'), sync(),
    bindOf(''), execute(), sync(),
  ];
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, 3);
  expect(direct).toBe('1 1 Z:I E:42P05:ERROR Z:I 2 D:5 C:SELECT 1 Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, 3)).toBe(direct);
});

it('what follows a Parse of a name in use in its segment changes nothing: the transaction stays failed, as directly', async () => {
  const messages = [
    parseAs('s7', 'END'), sync(),
    query('BEGIN'),
    // 42P05: the server skips the Bind and the Execute, which would have run END (s7) had the Parse not failed
    parseAs('s7', 'SELECT 1'), bindOf('s7'), execute(), sync(),
    query(`INSERT INTO items VALUES (7)`),
    query('ROLLBACK'),
  ];
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, 5);
  expect(direct).toBe('1 Z:I C:BEGIN Z:T E:42P05:ERROR Z:E E:25P02:ERROR Z:E C:ROLLBACK Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, 5)).toBe(direct);
});

it('a Parse among what an error skipped in a segment the proxy runs in pieces made nothing, as directly', async () => {
  const messages = [
    query('BEGIN'),
    // 26000 first: the server skips the rest, the Parse of s9 with it (the proxy runs this segment in pieces, at its ROLLBACK)
    bindOf('nope'), execute(), parseAs('s9', 'ROLLBACK'), bindOf('s9'), execute(), sync(),
    query('ROLLBACK'),
    bindOf('s9'), execute(), sync(),
  ];
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, 4);
  expect(direct).toBe('C:BEGIN Z:T E:26000:ERROR Z:E C:ROLLBACK Z:I E:26000:ERROR Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, 4)).toBe(direct);
});

it('a Close sent with a read the new database answers closes the statement on the source too, as directly', async () => {
  // The counts skip the rows the two runs insert: the direct run's row reaches the new database
  // only through the drainer, so a count of it would depend on when the drainer got there.
  const messages = (id: number) => [
    // a read: run on the new database, and parsed on the source as well
    parseAs('c1', 'SELECT count(*) FROM items WHERE id > 100'), bindOf('c1'), execute(), sync(),
    // pgjdbc closes a statement its cache let go of ahead of its next query, here another routed read
    msg('C', Buffer.from('S'), 'c1'), parseAs('', 'SELECT count(*) FROM items WHERE id > 101'), bindOf(''), execute(), sync(),
    // the name again, for a write (the source's): the proxy's source connection still held c1 (42P05)
    parseAs('c1', `INSERT INTO items VALUES (${id})`), bindOf('c1'), execute(), sync(),
    query(`SELECT string_agg(name, ',') FROM pg_prepared_statements`),
  ];
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages(21), 4);
  expect(direct).toBe('1 2 D:0 C:SELECT 1 Z:I 3 1 2 D:0 C:SELECT 1 Z:I 1 2 C:INSERT 0 1 Z:I T D:c1 C:SELECT 1 Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), messages(22), 4)).toBe(direct);
});
