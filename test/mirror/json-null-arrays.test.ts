// Values to_json cannot tell apart: a json or jsonb column holding JSON null
// (what ORMs write for None) and SQL NULL both became null, and the mirror
// stored SQL NULL; an array's lower bounds were dropped ('[0:2]={7,8,9}'
// arrived as '{7,8,9}'). Such columns travel as their text now, through a
// session's apply, a transaction put back by a savepoint and the drainer's
// re-sync alike; a date array reads the same whatever datestyle the writer
// used; rows captured by an older trigger still apply; and a json column
// dropped on the source while mirroring leaves writes to its table working.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { expectConverged, mirroredPair } from './mirrored-pair.ts';
import { MirrorApplier } from '../../proxy/mirror/apply.ts';

const SCHEMA = `
  CREATE DOMAIN jdoc AS jsonb;
  CREATE TABLE vals (id int PRIMARY KEY, jb jsonb, js json, ia int[], m int[], ta text[], da date[], dj jdoc, note text);
  CREATE TABLE gone (id int PRIMARY KEY, js json, jb jsonb, v text)`;
const COLS = ['jb', 'js', 'ia', 'm', 'ta', 'da', 'dj', 'note'];

/**
 * Rows from `id` on: JSON nulls, SQL NULLs, arrays with bounds, quotes, commas and NULL elements, dates
 * given day first (read month first, they are other dates, not invalid ones: no failed apply to re-sync).
 */
const rows = (id: number) => `
  INSERT INTO vals VALUES
    (${id}, 'null', 'null', '[0:2]={7,8,9}', '[-2:-1][1:2]={{1,2},{3,4}}', '{"a,b","c\\"d",NULL,"NULL",""}', '{01/02/2024,03/04/2024}', 'null', 'n'),
    (${id + 1}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (${id + 2}, '{"a": null}', '[null, 1 ]', '{}', '{{1,2},{3,4}}', '{}', '{infinity}', '"s"', '')`;

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_json_null_arrays', SCHEMA);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 0 });
});
afterAll(async () => {
  await tp?.close();
});

const text = async (url: string) =>
  (await sql(url, `SELECT id, ${COLS.map((c) => `${c}::text AS ${c}, ${c} IS NULL AS ${c}_null`).join(', ')} FROM vals ORDER BY id`)).rows;

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  return c;
}

describe('json null and arrays', () => {
  it('arrive on the mirror as the source has them', async () => {
    const c = await client();
    try {
      await c.query(`SET datestyle = 'SQL, DMY'`);
      await c.query(rows(1));
      await c.query('BEGIN');
      await c.query(rows(11));
      await c.query('SAVEPOINT s'); // drained rows put back into the change table and taken again
      await c.query(`UPDATE vals SET jb = 'null', ia = '[5:5]={1}', da = '{02/03/2024}' WHERE id = 2`);
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    // beside the proxy: the drainer's re-sync reads the source row itself
    await sql(pair.legacyUrl, `SET datestyle = 'SQL, DMY'; ${rows(21)}; UPDATE vals SET js = 'null', m = '[3:3]={9}' WHERE id = 12`);
    await expectConverged(tp.proxy.drainer!, pair, ['public.vals']);
    const source = await text(pair.legacyUrl);
    expect(source.find((r) => r.id === 1)).toMatchObject({
      jb: 'null', jb_null: false, js: 'null', js_null: false, dj: 'null', dj_null: false,
      ia: '[0:2]={7,8,9}', m: '[-2:-1][1:2]={{1,2},{3,4}}', ta: '{"a,b","c\\"d",NULL,"NULL",""}', da: '{2024-02-01,2024-04-03}',
    });
    expect(source.find((r) => r.id === 2)).toMatchObject({ jb: 'null', jb_null: false, js_null: true, ia: '[5:5]={1}', da: '{2024-03-02}' });
    expect(source.filter((r) => r.jb_null)).toHaveLength(2);
    expect(await text(pair.targetUrl)).toEqual(source);
  });

  it('rows an older trigger captured (plain to_json, no marker) still apply as before', async () => {
    const applier = new MirrorApplier(pair.targetUrl, 2);
    try {
      await applier.apply([
        { seq: 1, tbl: '"public"."vals"', op: 'U', pk: '{"id": 50}', row: '{"id":50,"jb":{"a":1},"js":[1, 2],"ia":[1,2],"ta":["x,y",null],"da":["2024-01-31"],"dj":"s","note":"old"}' },
      ]);
    } finally {
      await applier.close();
    }
    const r = (await sql(pair.targetUrl, `SELECT ${COLS.map((c) => `${c}::text AS ${c}`).join(', ')} FROM vals WHERE id = 50`)).rows;
    expect(r).toEqual([{ jb: '{"a": 1}', js: '[1, 2]', ia: '{1,2}', m: null, ta: '{"x,y",NULL}', da: '{2024-01-31}', dj: '"s"', note: 'old' }]);
    await sql(pair.targetUrl, 'DELETE FROM vals WHERE id = 50');
  });

  it('a json column dropped on the source while mirroring leaves writes to its table working', async () => {
    const c = await client();
    try {
      await c.query(`INSERT INTO gone VALUES (1, 'null', 'null', 'a')`);
      // the drainer reads (and caches) the table's row expression before the drop
      await sql(pair.legacyUrl, `INSERT INTO gone VALUES (2, '[1]', '{}', 'b')`);
      await tp.proxy.drainer!.flush();
      expect((await sql(pair.targetUrl, 'SELECT id, js::text, jb::text FROM gone ORDER BY id')).rows).toEqual([
        { id: 1, js: 'null', jb: 'null' },
        { id: 2, js: '[1]', jb: '{}' },
      ]);
      await sql(pair.legacyUrl, 'ALTER TABLE gone DROP COLUMN js');
      await c.query(`INSERT INTO gone VALUES (3, 'null', 'c')`);
      await c.query('BEGIN');
      await c.query(`UPDATE gone SET jb = '[0]', v = 'a2' WHERE id = 1`);
      await c.query('COMMIT');
      await sql(pair.legacyUrl, `INSERT INTO gone VALUES (4, 'null', 'd'); UPDATE gone SET v = 'b2' WHERE id = 2`);
      await tp.proxy.drainer!.flush();
    } finally {
      await c.end();
    }
    // the new side keeps its js column (the operator drops it there): nothing writes it any more
    expect((await sql(pair.targetUrl, 'SELECT id, jb::text, jb IS NULL AS jb_null, v FROM gone ORDER BY id')).rows).toEqual([
      { id: 1, jb: '[0]', jb_null: false, v: 'a2' },
      { id: 2, jb: '{}', jb_null: false, v: 'b2' },
      { id: 3, jb: 'null', jb_null: false, v: 'c' },
      { id: 4, jb: 'null', jb_null: false, v: 'd' },
    ]);
    expect(tp.proxy.drainer!.backlog).toBe(0);
  });
});
