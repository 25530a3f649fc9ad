// A SET sent as a prepared statement takes effect when it is executed, as
// often as it is executed: drivers that keep statements prepared per
// connection (node-postgres's named queries, JDBC, postgres.js) parse it once
// and later only Bind and Execute it. The proxy carried the SET to the
// session's read connection when it was parsed: one run again later was not
// carried (the target kept the other tenant's search_path), and one parsed
// but never run was carried though the source never ran it.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { exchangeAfterLogin, execute, int16, msg, query, sync } from '../proxy/raw-wire.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';
import { TENANT_SCHEMA } from './tenant-schema.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('prepared_set', TENANT_SCHEMA);
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

const READ = query('SELECT v FROM items WHERE id = 1');
const parse = (name: string, text: string) => msg('P', name, text, int16(0));
const run = (name: string) => [msg('B', '', name, int16(0), int16(0), int16(0)), execute(), sync()];

it.each([
  ['run again after another SET', [parse('to_a', 'SET search_path = tenant_a, public'), ...run('to_a'), parse('to_public', 'SET search_path = public'), ...run('to_public'), ...run('to_a'), READ], 4, 'tenant A only'],
  ['parsed but never run', [parse('to_a', 'SET search_path = tenant_a, public'), sync(), READ], 2, 'shared'],
])('a prepared SET %s: reads see what the source has', async (_, messages, readies, expected) => {
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, readies);
  expect(direct).toMatch(new RegExp(`D:${expected} C:SELECT 1 Z:I$`));
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, readies)).toBe(direct);
});
