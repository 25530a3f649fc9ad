// DISCARD ALL and DEALLOCATE through the extended protocol (JDBC sends every
// statement so). The proxy forgot every prepared statement when it read such a
// Parse, the DISCARD's own among them: its Execute then named a statement of
// unknown kind, which runs wrapped in the proxy's transaction as a possible
// write, and PostgreSQL refuses DISCARD ALL there (25001). DISCARD PLANS and
// DEALLOCATE of one name forgot the others too, so the session's remaining
// statements ran as unknowns on the source instead of as reads.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { bind, exchangeAfterLogin, execute, int16, int32, msg, parse, sync } from '../proxy/raw-wire.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('discard_extended', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
  // a row only the new database has: a read it answers shows where the read went
  await sql(pair.targetUrl, `INSERT INTO t VALUES (1, 'on the target')`);
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

const named = (name: string, text: string) => msg('P', name, text, int16(0));
const bindTo = (statement: string) => msg('B', '', statement, int16(0), int16(0), int16(0));

it('runs DISCARD ALL and DEALLOCATE ALL sent with Parse/Bind/Execute as PostgreSQL does', async () => {
  const messages = [parse('DISCARD ALL'), bind(), execute(), sync(), parse('DEALLOCATE ALL'), bind(), execute(), sync(), parse('DISCARD ALL'), bind(), msg('D', 'P'), execute(), sync()];
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, 3);
  expect(direct).toBe('1 2 C:DISCARD ALL Z:I 1 2 C:DEALLOCATE ALL Z:I 1 2 n C:DISCARD ALL Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, 3)).toBe(direct);
});

it('keeps a read statement a read after DISCARD PLANS or DEALLOCATE of another name', async () => {
  const read = [bindTo('r'), msg('E', '', int32(0)), sync()];
  const answers = await exchangeAfterLogin(
    tp.url(pair.name),
    [named('r', 'SELECT v FROM t WHERE id = 1'), named('other', 'SELECT 2'), sync(), ...read, parse('DISCARD PLANS'), bind(), execute(), sync(), ...read, parse('DEALLOCATE other'), bind(), execute(), sync(), ...read],
    6,
  );
  // reads at 100 %: each execution of the read statement is answered by the new database
  expect(answers).toBe('1 1 Z:I 2 D:on the target C:SELECT 1 Z:I 1 2 C:DISCARD PLANS Z:I 2 D:on the target C:SELECT 1 Z:I 1 2 C:DEALLOCATE Z:I 2 D:on the target C:SELECT 1 Z:I');
});
