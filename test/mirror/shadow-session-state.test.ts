// Shadow reads compare the source's answer with the new database's for the
// same statement. A session whose state the new database cannot share (a
// temporary table hiding a mirrored one, made by CREATE TEMP TABLE or by a
// function) reads from the source alone: compared, its reads counted as
// mismatches, which the shadow-mismatch gate takes for a wrong new database
// (and rolls the reads back).
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import type { DbPair } from '../harness/databases.ts';
import { shadowStats } from '../../proxy/shadow.ts';
import { mirroredPair } from './mirrored-pair.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('shadow_session_state', `
    CREATE TABLE docs (id int PRIMARY KEY, title text);
    INSERT INTO docs VALUES (1, 'permanent');
    CREATE FUNCTION scratch_docs() RETURNS int LANGUAGE plpgsql AS $$
    BEGIN CREATE TEMP TABLE docs (id int, title text); INSERT INTO docs VALUES (1, 'temporary'); RETURN 1; END $$;`);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 0, shadowSample: 1 });
});
afterAll(async () => {
  await tp?.close();
});

it.each([
  ['CREATE TEMP TABLE', "CREATE TEMP TABLE docs (id int, title text); INSERT INTO docs VALUES (1, 'temporary')"],
  ['a function', 'SELECT scratch_docs()'],
])('a session whose temporary table (made by %s) hides a mirrored one: its reads are not compared, and count no mismatch', async (_, make) => {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  try {
    const base = { ...shadowStats };
    expect((await c.query('SELECT title FROM docs WHERE id = 1')).rows).toEqual([{ title: 'permanent' }]);
    await c.query(make);
    for (let i = 0; i < 3; i++) expect((await c.query('SELECT title FROM docs WHERE id = 1')).rows).toEqual([{ title: 'temporary' }]);
    await new Promise((r) => setTimeout(r, 300));
    expect(shadowStats.matches - base.matches).toBe(1);
    expect(shadowStats.mismatches - base.mismatches).toBe(0);
  } finally {
    await c.end();
  }
});
