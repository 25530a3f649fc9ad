// Writes aimed at a partition of a partitioned table are mirrored like writes
// through the table: a statement fires the statement triggers of the table it
// names only, so capture on the parent alone missed them (nothing reached the
// new database, nothing was recorded dirty). A partition's TRUNCATE empties
// its own rows there, not the whole table.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { expectConverged, mirroredPair } from './mirrored-pair.ts';

const SCHEMA = `
  CREATE TABLE events (region text NOT NULL, id int NOT NULL, v text, PRIMARY KEY (region, id)) PARTITION BY LIST (region);
  CREATE TABLE events_eu PARTITION OF events FOR VALUES IN ('eu');
  CREATE TABLE events_us PARTITION OF events FOR VALUES IN ('us') PARTITION BY RANGE (id);
  CREATE TABLE events_us_low PARTITION OF events_us FOR VALUES FROM (0) TO (1000);
  CREATE TABLE events_us_high PARTITION OF events_us FOR VALUES FROM (1000) TO (MAXVALUE);`;
const TABLES = ['public.events'];
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_partitions', SCHEMA);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
});
afterAll(async () => {
  await tp?.close();
});

const rows = async (url: string) => (await sql(url, 'SELECT region, id, v FROM events ORDER BY region, id')).rows;

describe('a partitioned table', () => {
  it('mirrors writes through the table and straight to its partitions, at every level', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      await c.query(`INSERT INTO events VALUES ('eu', 1, 'parent'), ('us', 5, 'parent'), ('us', 5000, 'parent')`);
      await c.query(`INSERT INTO events_eu VALUES ('eu', 2, 'leaf')`);
      await c.query(`INSERT INTO events_us VALUES ('us', 6, 'middle'), ('us', 6000, 'middle')`);
      await c.query(`INSERT INTO events_us_high VALUES ('us', 7000, 'leaf')`);
      await c.query(`UPDATE events_eu SET v = 'leaf updated' WHERE id = 1`);
      await c.query(`UPDATE events SET region = 'us', id = 8 WHERE region = 'eu' AND id = 2`); // moves between partitions
      await c.query(`DELETE FROM events_us_low WHERE id = 5`);
      await c.query('BEGIN');
      await c.query(`UPDATE events_us SET v = 'in a transaction' WHERE id = 6000`);
      await c.query(`INSERT INTO events_eu VALUES ('eu', 3, 'in a transaction')`);
      await c.query('COMMIT');
      expect(await rows(pair.targetUrl)).toEqual(await rows(pair.legacyUrl));
      // a partition's truncate empties that partition on the new database too, nothing else
      await c.query('TRUNCATE events_us_high');
      expect(await rows(pair.targetUrl)).toEqual(await rows(pair.legacyUrl));
      expect((await rows(pair.legacyUrl)).map((r) => r.id)).toEqual([1, 3, 6, 8]);
    } finally {
      await c.end();
    }
    // beside the proxy, straight to a leaf: the drainer
    await sql(pair.legacyUrl, `INSERT INTO events_us_low VALUES ('us', 9, 'beside')`);
    await expectConverged(tp.proxy.drainer!, pair, TABLES);
    // one change row per row changed: a write through the table is not also captured on its partitions
    const c2 = new pg.Client({ connectionString: pair.legacyUrl });
    await c2.connect();
    await c2.query('BEGIN');
    await c2.query(`INSERT INTO events VALUES ('us', 11, 'once'), ('eu', 11, 'once')`);
    const n = (await c2.query(`SELECT count(*)::int AS n FROM cutover.changes WHERE txid = txid_current()`)).rows[0].n;
    await c2.query('ROLLBACK');
    await c2.end();
    expect(n).toBe(2);
  });

  it('reads naming a partition stay on the source (the new database may hold the table unpartitioned)', async () => {
    tp.live.update({ readPercent: 100 });
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      const reads = tp.proxy.guard!.stats.reads;
      expect((await c.query('SELECT count(*)::int AS n FROM events_eu')).rows).toEqual((await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM events_eu')).rows);
      expect(tp.proxy.guard!.stats.reads).toBe(reads);
      // the table itself is read on the new database
      await c.query('SELECT count(*)::int AS n FROM events');
      expect(tp.proxy.guard!.stats.reads).toBe(reads + 1);
    } finally {
      await c.end();
      tp.live.update({ readPercent: 0 });
    }
  });
});
