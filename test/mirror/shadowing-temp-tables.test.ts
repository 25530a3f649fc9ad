// A temporary table of the same name as a mirrored one hides it for the
// session that made it, on the source only: the session's reads must stay
// there. The proxy saw CREATE TEMP TABLE, but not a temporary table made
// inside a DO block or a procedure (whose body it does not read): a read of
// the name then went to the target and returned the permanent table's rows.
// CREATE TABLE pg_temp.x was refused as a schema change, though it makes a
// temporary table as CREATE TEMP TABLE does.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { exchangeAfterLogin, query } from '../proxy/raw-wire.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

const SCHEMA = `
  CREATE TABLE items (id int PRIMARY KEY, v text);
  INSERT INTO items VALUES (1, 'permanent');
  CREATE PROCEDURE scratch_items() LANGUAGE plpgsql AS $$
  BEGIN
    CREATE TEMP TABLE items (id int, v text);
    INSERT INTO items VALUES (1, 'temporary');
  END $$;
`;
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('shadowing_temp', SCHEMA);
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

const READ = query('SELECT v FROM items WHERE id = 1');

it.each([
  ['a DO block', query(`DO $$ BEGIN CREATE TEMP TABLE items (id int, v text); INSERT INTO items VALUES (1, 'temporary'); END $$`), 'DO'],
  ['a procedure', query('CALL scratch_items()'), 'CALL'],
  ['CREATE TABLE pg_temp.', query(`CREATE TABLE pg_temp.items (id int, v text); INSERT INTO items VALUES (1, 'temporary')`), 'INSERT 0 1'],
])('a temporary table made by %s hides the permanent one for the session, as directly', async (_, make, tag) => {
  const direct = await exchangeAfterLogin(pair.legacyUrl, [make, READ], 2);
  expect(direct).toMatch(new RegExp(`C:${tag} Z:I T D:temporary C:SELECT 1 Z:I$`));
  expect(await exchangeAfterLogin(tp.url(pair.name), [make, READ], 2)).toBe(direct);
});
