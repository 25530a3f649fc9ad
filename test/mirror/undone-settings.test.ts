// A SET the server undoes must not stay on the target. The proxy carries a
// session's SETs to its read connection from the statements' text, but
// PostgreSQL undoes a SET with what holds it: a ROLLBACK TO an earlier
// savepoint, an error later in the same Query string or before the same Sync
// (the implicit transaction rolls back), a COMMIT of a block an error failed
// (it answers ROLLBACK). Routed reads then ran on the target with the setting
// the source no longer had: a multi-tenant search_path read another tenant's
// rows. Now a session whose SETs may have been undone reads from the source.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { exchangeAfterLogin, execute, int16, msg, query, stepsAfterLogin, sync } from '../proxy/raw-wire.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';
import { TENANT_SCHEMA } from './tenant-schema.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('undone_settings', TENANT_SCHEMA);
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

const TENANT = 'SET search_path = tenant_a, public';
const READ = query('SELECT v FROM items WHERE id = 1');
const run = (text: string) => [msg('P', '', text, int16(0)), msg('B', '', '', int16(0), int16(0), int16(0)), execute()];

it.each([
  ['rolled back to a savepoint', [query('BEGIN'), query('SAVEPOINT a'), query(TENANT), query('ROLLBACK TO a'), query('COMMIT'), READ], 6],
  ['in a Query string a later statement failed', [query(`${TENANT}; SELECT 1/0`), READ], 2],
  ['in a block a failure ended, by COMMIT', [query('BEGIN'), query(TENANT), query('SELECT 1/0'), query('COMMIT'), READ], 5],
  ['before a failed Execute in the same Sync', [...run(TENANT), ...run('SELECT 1/0'), sync(), READ], 2],
])('a SET %s reads as directly', async (_, messages, readies) => {
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, readies);
  expect(direct).toMatch(/D:shared C:SELECT 1 Z:I$/);
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, readies)).toBe(direct);
});

it('a SET that stays is followed on the target', async () => {
  const messages = [query('BEGIN'), query('SAVEPOINT a'), query(TENANT), query('RELEASE a'), query('COMMIT'), READ];
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, 6)).toMatch(/D:tenant A only C:SELECT 1 Z:I$/);
});

it('a SET among other statements is still followed on the target after a later request fails (asyncpg pool reset, then a failed write)', async () => {
  // a row only the new database has: a read that shows it was answered there
  await sql(pair.targetUrl, `INSERT INTO tenant_a.items VALUES (2, 'target only')`);
  const step = (text: string) => ({ messages: [query(text)], until: 'Z' });
  const answers = await stepsAfterLogin(tp.url(pair.name), [
    step(`SELECT 1; ${TENANT}`),
    step(`INSERT INTO items VALUES (1, 'taken')`),
    step(`SELECT string_agg(v, ',' ORDER BY id) FROM items`),
  ]);
  expect(answers[1]).toBe('E:23505:ERROR Z:I');
  expect(answers[2]).toBe('T D:tenant A only,target only C:SELECT 1 Z:I');
});
