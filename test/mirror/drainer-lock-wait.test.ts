// The drainer share-locks the source rows it re-syncs. A writer on the source
// itself (beside the proxies, as capture allows) may hold one of them and then
// want a row the drainer locked: a deadlock, and PostgreSQL's check (after
// deadlock_timeout, 1 s) failed the application's transaction about as often
// as the drainer's (pgbench tpcb on the source beside a draining proxy: 8
// failed transactions in 20 s). The drainer gives way after 500 ms instead,
// and takes the batch again at its next tick.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import client from 'prom-client';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;
let drain: () => Promise<number>;

beforeAll(async () => {
  pair = await mirroredPair('mirror_drainer_lock_wait', 'CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL)');
  tp = await mirroringProxy(pair);
  // this test decides when a drain runs
  const drainer = tp.proxy.drainer!;
  drain = drainer.drainOnce.bind(drainer);
  drainer.drainOnce = async () => 0;
});
afterAll(async () => {
  await tp?.close();
});

const lockWaits = async () => (await client.register.getSingleMetric('cutover_drain_lock_waits_total')!.get()).values.reduce((a, v) => a + v.value, 0);

it('gives way to a row lock an application holds on the source, then re-syncs the row once it is free', async () => {
  // a change made on the source directly: the drainer's to carry
  await sql(pair.legacyUrl, 'INSERT INTO t VALUES (1, 0)');
  const app = new pg.Client({ connectionString: pair.legacyUrl });
  await app.connect();
  try {
    await app.query('BEGIN');
    await app.query('UPDATE t SET v = 5 WHERE id = 1');
    const waitsBefore = await lockWaits();
    const committing = new Promise((r) => setTimeout(r, 3_000)).then(() => app.query('COMMIT'));
    const started = Date.now();
    expect(await drain()).toBe(0);
    const waited = Date.now() - started;
    expect(waited).toBeLessThan(2_000);
    expect(await lockWaits()).toBe(waitsBefore + 1);
    // the application's transaction goes on, untouched
    await app.query('UPDATE t SET v = v + 1 WHERE id = 1');
    await committing;
  } finally {
    await app.end();
  }
  while ((await drain()) > 0);
  expect((await sql(pair.targetUrl, 'SELECT v FROM t WHERE id = 1')).rows).toEqual([{ v: 6 }]);
});
