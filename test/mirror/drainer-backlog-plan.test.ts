// The drainer's batch after the change table was analyzed empty (its usual
// state: sessions drain their own rows before they commit). The old
// `seq IN (SELECT … FOR UPDATE SKIP LOCKED)` got a one-row estimate from those
// statistics and a nested loop that ran the locking subquery once per change
// row: a backlog left by a bulk transaction or an outage never drained.
import { expect, it } from 'vitest';
import { LiveState } from '../../common/live-state.ts';
import { silentLogger } from '../../common/log.ts';
import { MirrorApplier } from '../../proxy/mirror/apply.ts';
import { DRAIN_BATCH_SQL, Drainer } from '../../proxy/mirror/drainer.ts';
import { sql } from '../harness/databases.ts';
import { mirroredPair } from './mirrored-pair.ts';

const ROWS = 30_000;

it('drains a backlog in batches whose plan does not depend on stale statistics', async () => {
  const pair = await mirroredPair('mirror_drainer_backlog_plan', `CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL)`);
  // statistics of an empty change table that has pages: what autovacuum records between bursts
  await sql(pair.legacyUrl, `INSERT INTO kv SELECT g, 'x' FROM generate_series(1, 10000) g; DELETE FROM cutover.changes; ANALYZE cutover.changes`);
  // a backlog the drainer must bring to the mirror: written beside the proxy
  await sql(pair.legacyUrl, `UPDATE kv SET v = 'y'; INSERT INTO kv SELECT g, 'z' FROM generate_series(10001, ${ROWS}) g`);

  // the batch is chosen once, whatever the estimate: no nested loop around the locking subquery
  const plan = (await sql(pair.legacyUrl, `EXPLAIN ${DRAIN_BATCH_SQL}`)).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
  expect(plan).toMatch(/InitPlan/);
  expect(plan).toMatch(/Tid Scan/);
  expect(plan).not.toMatch(/Nested Loop/);

  const mirror = new MirrorApplier(pair.targetUrl);
  const drainer = new Drainer(pair.legacyUrl, mirror, new LiveState({ mirroring: true }), silentLogger, 50);
  try {
    let taken = 0;
    for (let n = await drainer.drainOnce(); n > 0; n = await drainer.drainOnce()) taken += n;
    expect(taken).toBe(ROWS);
    expect(drainer.backlog).toBe(0);
    const digest = `SELECT count(*)::int AS n, md5(string_agg(id || v, ',' ORDER BY id)) AS h FROM kv`;
    expect((await sql(pair.targetUrl, digest)).rows[0]).toEqual((await sql(pair.legacyUrl, digest)).rows[0]);
  } finally {
    await drainer.stop();
    await mirror.close();
  }
});
