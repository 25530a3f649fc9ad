// What became of a Parse decides what a later Bind of its name meets. With
// reads routed to the new database, a statement may live on one connection and
// not the other, so the proxy's record of each name must follow the source's
// answers exactly: a stale statement it keeps is one a Bind runs where
// PostgreSQL answers 26000. Each exchange is run directly on the source and
// through the mirroring proxy (reads 100 %), and the answers compared.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { bind, exchangeAfterLogin, execute, int16, msg, parse, sync } from '../proxy/raw-wire.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('parse_fates_routed', 'CREATE TABLE t (id int PRIMARY KEY)');
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

const flush = () => msg('H');

it('an unnamed Parse that fails behind answered messages of its segment drops the statement before it: a later Bind fails as directly', async () => {
  const messages = [
    // the unnamed statement, read on the new database
    parse('SELECT 42'), bind(), execute(), sync(),
    // a segment whose first part the client flushed and had answered, then an unnamed Parse that fails
    msg('P', 's1', 'SELECT 1', int16(0)), msg('B', '', 's1', int16(0), int16(0), int16(0)), execute(), flush(),
    parse('SELECT * FROM nosuch_table'), bind(), execute(), sync(),
    // PostgreSQL dropped the unnamed statement at that Parse: nothing to bind
    bind(), execute(), sync(),
  ];
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, 3);
  expect(direct).toBe('1 2 D:42 C:SELECT 1 Z:I 1 2 D:1 C:SELECT 1 E:42P01:ERROR Z:I E:26000:ERROR Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, 3)).toBe(direct);
});

it('unnamed Parses flushed ahead of an error, a later one skipped: the name means the last the server made, as directly', async () => {
  const messages = [
    // made, then a Bind that fails (a parameter too many): the server skips the rest up to the Sync
    parse('SELECT 7'), msg('B', '', '', int16(0), int16(1), Buffer.from([0, 0, 0, 1]), Buffer.from('5'), int16(0)), parse('SELECT 8'), flush(),
    parse('SELECT 9'), sync(),
    bind(), execute(), sync(),
  ];
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, 2);
  expect(direct).toBe('1 E:08P01:ERROR Z:I 2 D:7 C:SELECT 1 Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, 2)).toBe(direct);
});

it('a named statement first parsed for a read on the new database, bound in a failed transaction block: 25P02 and 08P01 as directly, not 26000', async () => {
  const bindS1 = (values: string[]) => msg('B', '', 's1', int16(0), int16(values.length), ...values.flatMap((v) => [Buffer.from([0, 0, 0, v.length]), Buffer.from(v)]), int16(0));
  const messages = [
    msg('P', 's1', 'SELECT $1::int + 1', int16(0)), bindS1(['1']), execute(), sync(),
    msg('Q', 'BEGIN'), msg('Q', 'SELECT 1/0'),
    // the server has s1: it refuses the Bind for the failed block, or first for a parameter too many
    bindS1(['2']), execute(), sync(),
    bindS1(['2', '3']), execute(), sync(),
    msg('Q', 'ROLLBACK'),
  ];
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, 6);
  expect(direct).toBe('1 2 D:2 C:SELECT 1 Z:I C:BEGIN Z:T E:22012:ERROR Z:E E:25P02:ERROR Z:E E:08P01:ERROR Z:E C:ROLLBACK Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, 6)).toBe(direct);
});
