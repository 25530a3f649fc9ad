import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { installCaptureAt } from './mirrored-pair.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { runWorkload, WORKLOAD_SCHEMA, WORKLOAD_TABLES } from './workload.ts';

let pair: DbPair;
let target: Cluster;
let targetUrl: string;
let tp: TestProxy;

beforeAll(async () => {
  pair = await databasePair('mirror_target_outage');
  // durable: an immediate stop must not lose commits the mirror acknowledged
  target = await startCluster({ name: 'outage-target', durable: true });
  targetUrl = await target.createDatabase(pair.name);
  await sql(pair.legacyUrl, WORKLOAD_SCHEMA);
  await sql(targetUrl, WORKLOAD_SCHEMA);
  await installCaptureAt(pair.legacyUrl);
  tp = await startTestProxy({ source: pair.legacyUrl, target: targetUrl, reads: 50 });
});
afterAll(async () => {
  await tp?.close();
  await target?.destroy();
});

describe('the target stopped mid-load', () => {
  it('clients see no error, reads fall back, dirty keys are kept; after a restart the drainer converges', async () => {
    const load = runWorkload(tp.url(pair.name), { seed: 7, clients: 8, ops: 8000 });
    await new Promise((r) => setTimeout(r, 1200));
    expect(tp.live.get().tripped).toBeNull();
    await target.stop('immediate');
    const res = await load;
    expect(res.errors).toEqual([]);
    expect(tp.live.get().tripped).toMatch(/mirror write failed|circuit breaker/);
    expect(tp.live.effectiveReadPercent).toBe(0);
    expect(tp.proxy.guard!.stats.dirtyKeys).toBeGreaterThan(0);
    const pending = await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM cutover.changes');
    expect(pending.rows[0].n).toBeGreaterThan(0);

    await target.start();
    for (let i = 0; i < 200; i++) {
      const n = await tp.proxy.drainer!.drainOnce().catch(() => -1);
      if (n === 0 && tp.proxy.drainer!.backlog === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(tp.proxy.drainer!.backlog).toBe(0);
    const diffs = await compareDatabases(pair.legacyUrl, targetUrl, WORKLOAD_TABLES);
    for (const d of diffs) expect(d, d.table).toMatchObject({ equal: true });
  }, 180_000);
});
