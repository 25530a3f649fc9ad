// The source restarted under a mirrored write load, once with a fast shutdown
// (sessions terminated, open transactions rolled back) and once crashed
// (immediate): clients reconnect and go on; whatever the source kept, the
// mirror ends equal to it. Commits caught between the mirror apply and the
// source COMMIT are the hard part: their keys are re-synced by the drainer.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { installCaptureAt } from './mirrored-pair.ts';
import { rng } from './workload.ts';

const SCHEMA = `
  CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL, note text);
  CREATE TABLE log (id bigserial PRIMARY KEY, kv_id int NOT NULL, at timestamptz NOT NULL DEFAULT now());
`;
const TABLES = ['public.kv', 'public.log'];
let pair: DbPair;
let source: Cluster;
let sourceUrl: string;
let tp: TestProxy;

beforeAll(async () => {
  pair = await databasePair('mirror_source_restart');
  // durable: what the source acknowledged survives the crash
  source = await startCluster({ name: 'restart-source', durable: true });
  sourceUrl = await source.createDatabase(pair.name);
  await sql(sourceUrl, SCHEMA);
  await sql(pair.targetUrl, SCHEMA);
  await installCaptureAt(sourceUrl);
  tp = await startTestProxy({ source: sourceUrl, target: pair.targetUrl });
}, 60_000);
afterAll(async () => {
  await tp?.close();
  await source?.destroy();
});

/** Clients that write until `until`, reconnecting after any error (the source is away for a while). */
async function load(seed: number, progress: { commits: number; until: number }): Promise<{ commits: number; errors: number }> {
  let errors = 0;
  await Promise.all(Array.from({ length: 8 }, async (_, w) => {
    const rand = rng(seed * 100 + w);
    let c: pg.Client | null = null;
    while (Date.now() < progress.until) {
      try {
        if (!c) {
          c = new pg.Client({ connectionString: tp.url(pair.name) });
          c.on('error', () => undefined);
          await c.connect();
        }
        const id = 1 + Math.floor(rand() * 200);
        await c.query('BEGIN');
        await c.query('INSERT INTO kv VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET v = kv.v + 1, note = $2', [id, `w${w}`]);
        await c.query('INSERT INTO log (kv_id) VALUES ($1)', [id]);
        if (rand() < 0.2) await c.query('DELETE FROM kv WHERE id = $1', [1 + Math.floor(rand() * 200)]);
        await c.query('COMMIT');
        progress.commits++;
      } catch {
        errors++;
        await c?.end().catch(() => undefined);
        c = null;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await c?.end().catch(() => undefined);
  }));
  return { commits: progress.commits, errors };
}

describe('the source restarted under mirrored writes', () => {
  it.each([
    { mode: 'fast' as const, seed: 1 },
    { mode: 'immediate' as const, seed: 2 },
  ])('$mode shutdown: clients reconnect, and the mirror ends equal to what the source kept', async ({ mode, seed }) => {
    // the clients write until 3 s after the source is back, however long its stop and start take
    const progress = { commits: 0, until: Infinity };
    const running = load(seed, progress);
    await new Promise((r) => setTimeout(r, 2_000));
    const beforeStop = progress.commits;
    await source.stop(mode);
    await new Promise((r) => setTimeout(r, 500));
    await source.start();
    const afterStart = progress.commits;
    progress.until = Date.now() + 3_000;
    const res = await running;
    // writes went through before the stop, and the clients reconnected and wrote after the restart
    // (counts, not rates: how many fit in the seconds depends on the machine's load)
    expect(beforeStop).toBeGreaterThan(0);
    expect(res.commits).toBeGreaterThan(afterStart);

    const deadline = Date.now() + 60_000;
    let diffs = await compareDatabases(sourceUrl, pair.targetUrl, TABLES);
    while (!diffs.every((d) => d.equal)) {
      if (Date.now() > deadline) break;
      await tp.proxy.drainer!.flush().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
      diffs = await compareDatabases(sourceUrl, pair.targetUrl, TABLES);
    }
    console.log(`${mode}: ${res.commits} commits, ${res.errors} client errors while the source was away; ${JSON.stringify(diffs)}`);
    expect(diffs.filter((d) => !d.equal)).toEqual([]);
  }, 120_000);
});
