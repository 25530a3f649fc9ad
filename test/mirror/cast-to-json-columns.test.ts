// A column whose type has a cast to json (hstore, and domains over it) is
// written by to_json() through that cast: an hstore became the JSON object
// {"k": "1"}, which the mirror's hstore input refused ('Syntax error near "\""'),
// so every write to such a table failed its apply, tripped reads and left
// the new database behind (found driving psycopg 3's hstore adapter through
// the proxy). Such columns travel as their text now, as json and arrays do.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, proxyWithoutDrainer } from './mirrored-pair.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_cast_to_json', `
    CREATE EXTENSION hstore;
    CREATE DOMAIN tags AS hstore;
    CREATE TABLE prefs (id int PRIMARY KEY, h hstore, t tags, note text);
    CREATE TYPE labelled AS (h hstore, a int[]);
    CREATE TABLE boxes (id int PRIMARY KEY, l labelled)`);
  tp = await proxyWithoutDrainer(pair);
});
afterAll(async () => {
  await tp?.close();
});

const rows = async (url: string) => (await sql(url, 'SELECT id, h::text, t::text, note FROM prefs ORDER BY id')).rows;

it('hstore columns (and a domain over hstore) reach the mirror before the COMMIT is answered', async () => {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  try {
    await c.query(`INSERT INTO prefs VALUES (1, 'k => 1, n => NULL', 'a => "x y"', 'one')`);
    await c.query('INSERT INTO prefs VALUES ($1, $2, $3, $4)', [2, '"quote\\"d" => "=>"', '', null]);
    await c.query(`BEGIN; UPDATE prefs SET h = h || 'k => 2', note = 'two' WHERE id = 1; COMMIT`);
  } finally {
    await c.end();
  }
  expect(await rows(pair.targetUrl)).toEqual(await rows(pair.legacyUrl));
  expect((await rows(pair.targetUrl)).map((r) => r.h)).toEqual(['"k"=>"2", "n"=>NULL', '"quote\\"d"=>"=>"']);
  expect(tp.live.get().tripped).toBeNull();
});

it('a composite column holding an hstore or an array with its own bounds arrives as it is', async () => {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  try {
    await c.query(`INSERT INTO boxes VALUES (1, ROW('k => 1', '[0:2]={7,8,9}'))`);
  } finally {
    await c.end();
  }
  const boxes = (url: string) => sql(url, 'SELECT id, l::text FROM boxes ORDER BY id').then((r) => r.rows);
  expect(await boxes(pair.targetUrl)).toEqual([{ id: 1, l: '("""k""=>""1""","[0:2]={7,8,9}")' }]);
  expect(await boxes(pair.targetUrl)).toEqual(await boxes(pair.legacyUrl));
});
