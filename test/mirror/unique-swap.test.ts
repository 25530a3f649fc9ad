// Two rows swapping a UNIQUE value in one transaction (through a temporary
// value: legal on PostgreSQL). The mirror gets the rows' last images, and
// written over its old rows one by one, either order collides. Before, the
// session's apply failed (reads tripped) and the drainer's re-sync failed the
// same way on every pass, holding back everything queued behind it.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { expectConverged, mirroredPair } from './mirrored-pair.ts';

const SCHEMA = `
  CREATE TABLE u (id int PRIMARY KEY, email text UNIQUE);
  CREATE TABLE t (id int PRIMARY KEY, v text);
  INSERT INTO u VALUES (1, 'a@'), (2, 'b@');
`;
const SWAP = `BEGIN; UPDATE u SET email = 'tmp' WHERE id = 1; UPDATE u SET email = 'a@' WHERE id = 2; UPDATE u SET email = 'b@' WHERE id = 1; COMMIT`;
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_unique_swap', SCHEMA);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 50 });
});
afterAll(async () => {
  await tp?.close();
});

const converged = () => expectConverged(tp.proxy.drainer!, pair, ['public.u', 'public.t']);

describe('a UNIQUE value swapped between rows', () => {
  it('through the proxy: mirrored before the COMMIT, no dirty key, no trip', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      await c.query(SWAP);
      expect((await sql(pair.targetUrl, 'SELECT id, email FROM u ORDER BY id')).rows).toEqual([{ id: 1, email: 'b@' }, { id: 2, email: 'a@' }]);
      // and back, as separate statements of one transaction
      await c.query('BEGIN');
      await c.query(`UPDATE u SET email = 'tmp' WHERE id = 2`);
      await c.query(`UPDATE u SET email = 'a@' WHERE id = 1`);
      await c.query(`UPDATE u SET email = 'b@' WHERE id = 2`);
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    expect(tp.proxy.guard!.stats.dirtyKeys).toBe(0);
    expect(tp.live.get().tripped).toBeNull();
    await converged();
  });

  it('beside the proxy: the drainer re-syncs the swap, and what is queued behind it still arrives', async () => {
    await sql(pair.legacyUrl, SWAP);
    await sql(pair.legacyUrl, `INSERT INTO t VALUES (1, 'out of band')`);
    await converged();
    expect((await sql(pair.targetUrl, 'SELECT v FROM t')).rows).toEqual([{ v: 'out of band' }]);
    expect((await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM cutover.changes')).rows[0].n).toBe(0);
  });
});
