// Reads of a table capture does not cover stay on the source of truth. With
// configured `tables` narrower than the schema (capture on a only), reads of b
// were routed to the new database like any other: there b is whatever a copy
// or `cutover schema --apply` left, never written by the mirror.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { installCapture } from '../../proxy/capture/pg-capture.ts';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { startControlledProxy, walkToFullReads, type ControlledProxy } from '../control/controlled-proxy.ts';

let pair: DbPair;
let cp: ControlledProxy;
let c: pg.Client;

beforeAll(async () => {
  pair = await databasePair('mirror_uncaptured_reads');
  const schema = 'CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY, v text)';
  await sql(pair.legacyUrl, `${schema}; INSERT INTO b VALUES (1, 'legacy')`);
  // b on the new database as an old copy left it; a with a row only there, to tell where a read went
  await sql(pair.targetUrl, `${schema}; INSERT INTO b VALUES (1, 'stale copy'); INSERT INTO a VALUES (1)`);
  const src = new pg.Client({ connectionString: pair.legacyUrl });
  await src.connect();
  await installCapture(src, ['a']);
  await src.end();
  cp = await startControlledProxy({ source: pair.legacyUrl, target: pair.targetUrl });
  for (let i = 0; i < 50 && !cp.live.get().mirroring; i++) await new Promise((r) => setTimeout(r, 100));
  await walkToFullReads(cp);
  c = new pg.Client({ connectionString: cp.url(pair.name) });
  await c.connect();
});
afterAll(async () => {
  await c?.end();
  await cp?.close();
});

it('at 100 % reads, a captured table is read from the new database, an uncaptured one from the source', async () => {
  expect((await c.query('SELECT count(*)::int AS n FROM a')).rows[0].n).toBe(1);
  for (let i = 0; i < 5; i++) expect((await c.query('SELECT v FROM b WHERE id = 1')).rows[0].v).toBe('legacy');
  expect((await c.query('SELECT v FROM public.b JOIN a USING (id)')).rows).toEqual([]);
});
