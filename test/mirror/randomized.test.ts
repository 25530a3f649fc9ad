import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import { mirroredPair } from './mirrored-pair.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { runWorkload, WORKLOAD_SCHEMA, WORKLOAD_TABLES } from './workload.ts';
import { mirrorMetrics } from '../../proxy/mirror/metrics.ts';

const drainAheadCommits = async () => (await mirrorMetrics.drainAhead.get()).values[0]?.value ?? 0;

const SEEDS = (process.env.CUTOVER_SEEDS ?? '11,22,33').split(',').map(Number);
const OPS = Number(process.env.CUTOVER_OPS ?? 20_000);

async function settle(tp: TestProxy): Promise<void> {
  // out-of-band rows (if any) reach the mirror through the drainer
  for (let i = 0; i < 100 && (tp.proxy.drainer!.backlog > 0 || i === 0); i++) {
    await tp.proxy.drainer!.drainOnce().catch(() => 0);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(SEEDS)('randomized concurrent workload, seed %i', (seed) => {
  let pair: DbPair;
  let tp: TestProxy;
  beforeAll(async () => {
    pair = await mirroredPair(`mirror_random_${seed}`, WORKLOAD_SCHEMA);
    tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 30 });
  });
  afterAll(async () => {
    await tp?.close();
  });

  it(`${OPS} operations from 16 clients leave both databases equal`, async () => {
    const aheadBefore = await drainAheadCommits();
    const res = await runWorkload(tp.url(pair.name), { seed, clients: 16, ops: OPS });
    expect(res.errors).toEqual([]);
    // some COMMITs took changes drained behind their last write (drain-ahead.ts): the comparison below covers that path too
    const ahead = (await drainAheadCommits()) - aheadBefore;
    console.log(`seed ${seed}: ${ahead} COMMITs drained ahead`);
    expect(ahead).toBeGreaterThan(0);
    // writes reached the mirror before their commit, not later through the drainer
    expect(tp.proxy.guard!.stats.applies).toBeGreaterThan(OPS / 4);
    expect(tp.proxy.guard!.stats.reads).toBeGreaterThan(0);
    expect(res.ops).toBeGreaterThanOrEqual(OPS);
    await settle(tp);
    expect(tp.live.get().tripped).toBeNull();
    const diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, WORKLOAD_TABLES);
    for (const d of diffs) expect(d, d.table).toMatchObject({ equal: true });
    // the workload really did something on both sides
    expect(diffs.find((d) => d.table === 'public.accounts')!.rows[0]).toBeGreaterThan(100);
  }, 300_000);
});
