// TRUNCATE of tables linked by a foreign key (`TRUNCATE a CASCADE`,
// `TRUNCATE a, b`) while mirroring: capture writes one change row per table,
// and the new database refuses to empty a referenced table alone. Also a
// truncate the mirror could not take in time: recorded dirty as a truncate
// (not as a key-less re-sync row, which wedged the drainer for good), and the
// drainer re-copies the table, keeping rows written after it.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { expectConverged, mirroredPair } from './mirrored-pair.ts';

const SCHEMA = `
  CREATE TABLE a (id int PRIMARY KEY, v text);
  CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a (id), v text);
  CREATE TABLE other (id int PRIMARY KEY, v text);
  INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 3) g;
  INSERT INTO b SELECT g, g, 'b' || g FROM generate_series(1, 3) g;
`;
const TABLES = ['public.a', 'public.b', 'public.other'];
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_truncate', SCHEMA);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 50 });
});
afterAll(async () => {
  await tp?.close();
});

const converged = () => expectConverged(tp.proxy.drainer!, pair, TABLES);

describe('TRUNCATE while mirroring', () => {
  it('TRUNCATE a CASCADE and TRUNCATE a, b are mirrored with no dirty key, and later out-of-band writes still drain', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      await c.query('TRUNCATE a CASCADE');
      await c.query(`INSERT INTO a VALUES (10, 'x'); INSERT INTO b VALUES (10, 10, 'y')`);
      await c.query('BEGIN');
      await c.query('TRUNCATE a, b');
      await c.query(`INSERT INTO a VALUES (20, 'z')`);
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    expect(tp.proxy.guard!.stats.dirtyKeys).toBe(0);
    expect(tp.live.get().tripped).toBeNull();
    // written beside the proxy: only the drainer brings it over
    await sql(pair.legacyUrl, `INSERT INTO other VALUES (1, 'out of band')`);
    await converged();
    expect((await sql(pair.targetUrl, 'SELECT id FROM a')).rows).toEqual([{ id: 20 }]);
    expect((await sql(pair.targetUrl, 'SELECT id FROM other')).rows).toEqual([{ id: 1 }]);
  });

  it('a truncate the mirror could not apply is re-synced as a whole table, keeping rows mirrored after it', async () => {
    await sql(pair.legacyUrl, `INSERT INTO a SELECT g, 'again' FROM generate_series(30, 35) g`);
    await tp.proxy.drainer!.flush();
    // a reader on the new database holds the table: the mirror's TRUNCATE waits past its 5 s deadline
    const blocker = new pg.Client({ connectionString: pair.targetUrl });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT count(*) FROM a');
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      await c.query('TRUNCATE a CASCADE');
      expect(tp.proxy.guard!.stats.dirtyKeys).toBeGreaterThan(0);
      await blocker.query('ROLLBACK');
      // mirrored by the session itself after the truncate: no change row is left for the drainer
      await c.query(`INSERT INTO a VALUES (40, 'after')`);
    } finally {
      await c.end();
      await blocker.end().catch(() => undefined);
    }
    await converged();
    expect((await sql(pair.targetUrl, 'SELECT id FROM a ORDER BY id')).rows).toEqual([{ id: 40 }]);
    // the drainer is not wedged: a later out-of-band write still arrives
    await sql(pair.legacyUrl, `INSERT INTO other VALUES (2, 'later')`);
    await converged();
    expect((await sql(pair.legacyUrl, `SELECT count(*)::int AS n FROM cutover.changes`)).rows[0].n).toBe(0);
  }, 60_000);
});
