// Values whose text jsonb would rewrite: a json column keeps its key order,
// duplicate keys and spaces; a float's -0 keeps its sign. Captured rows were
// jsonb, so the mirror held '{"a": 3, "b": 1}' for '{"b": 1, "a": 2, "a": 3}'
// and 0 for -0, and verify found them different. Through a session's apply,
// the drainer's re-sync and a transaction put back by drain-ahead alike.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { expectConverged, mirroredPair } from './mirrored-pair.ts';

const SCHEMA = `CREATE TABLE docs (id int PRIMARY KEY, j json, jb jsonb, f8 float8, f4 real, n numeric)`;
const ROW = `'{"b": 1, "a": 2, "a": 3}', '{"b": 1, "a": 2}', '-0', '-0', '-0.0'`;
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_json_fidelity', SCHEMA);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 0 });
});
afterAll(async () => {
  await tp?.close();
});

const text = async (url: string) => (await sql(url, 'SELECT id, j::text, jb::text, f8::text, f4::text, n::text FROM docs ORDER BY id')).rows;

describe('values jsonb would rewrite', () => {
  it('arrive on the mirror as the source has them', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      await c.query(`INSERT INTO docs VALUES (1, ${ROW})`);
      await c.query('BEGIN');
      await c.query(`INSERT INTO docs VALUES (2, ${ROW})`);
      await c.query(`SAVEPOINT s`); // drained rows put back into the change table and taken again
      await c.query(`UPDATE docs SET j = '{ "z" : [1, 2] ,"y":null }' WHERE id = 2`);
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    // beside the proxy: the drainer's re-sync
    await sql(pair.legacyUrl, `INSERT INTO docs VALUES (3, ${ROW})`);
    await expectConverged(tp.proxy.drainer!, pair, ['public.docs']);
    const source = await text(pair.legacyUrl);
    expect(source[0]).toMatchObject({ j: '{"b": 1, "a": 2, "a": 3}', f8: '-0' });
    expect(await text(pair.targetUrl)).toEqual(source);
  });
});
