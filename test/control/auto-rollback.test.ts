// A target failure in the middle of a read step: the gate watcher rolls reads
// back to 0 % within a second, moves the phase to ROLLED_BACK with the reason
// in status and history, calls the alert webhook, and no client sees an error.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { freePort, startCluster, type Cluster } from '../harness/postgres.ts';
import { spawnCli, type RunningCli } from '../harness/cli.ts';
import { installCaptureAt } from '../mirror/mirrored-pair.ts';
import { runWorkload, WORKLOAD_SCHEMA } from '../mirror/workload.ts';

let pair: DbPair;
let target: Cluster;
let targetUrl: string;
let proxy: RunningCli;
let control: string;
let listen: number;
let hook: http.Server;
const hooks: Record<string, any>[] = [];
let hookUrl: string;
const HOOK_SECRET = 'T0-hook-secret-B0';

beforeAll(async () => {
  pair = await databasePair('control_auto_rollback');
  target = await startCluster({ name: 'rollback-target' });
  targetUrl = await target.createDatabase(pair.name);
  await sql(pair.legacyUrl, WORKLOAD_SCHEMA);
  await sql(targetUrl, WORKLOAD_SCHEMA);
  await installCaptureAt(pair.legacyUrl);
  hook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      hooks.push({ url: req.url, at: Date.now(), body: JSON.parse(body) });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/services/${HOOK_SECRET}?sig=${HOOK_SECRET}`;
  control = `127.0.0.1:${await freePort()}`;
  listen = await freePort();
  // the gate under test is the target failing: latency (a busy shared machine can slow one server alone) is not
  proxy = await spawnCli(['proxy', '--source', pair.legacyUrl, '--target', targetUrl, '--listen', `127.0.0.1:${listen}`, '--control', control, '--webhook', hookUrl], 'control API listening', { CUTOVER_MAX_LATENCY_RATIO: '1000' });
});
afterAll(async () => {
  proxy?.child.kill('SIGKILL');
  hook?.close();
  await target?.destroy();
});

async function api(method: string, p: string, body?: unknown) {
  const res = await fetch(`http://${control}${p}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

describe('automatic rollback', () => {
  it('target stopped during a step: reads 0 % within 1 s, ROLLED_BACK with the reason, webhook called, no client error', async () => {
    for (const p of ['PREFLIGHT', 'BACKUP', 'CAPTURE', 'BACKFILL', 'VERIFY']) expect((await api('PUT', '/phase', { phase: p })).status).toBe(200);
    // as `cutover verify` records it: both sides hold the same (empty) history here
    expect((await api('POST', '/verify', { passed: true, summary: 'test: both databases equal' })).status).toBe(200);
    for (let i = 0; i < 50 && !(await api('GET', '/status')).json.mirroring; i++) await new Promise((r) => setTimeout(r, 100));
    const stepped = await api('POST', '/step');
    expect(stepped.status, JSON.stringify(stepped.json)).toBe(200);
    expect((await api('PUT', '/reads', { percent: 50 })).json).toMatchObject({ phase: 'SHIFTING', readPercent: 50 });

    const load = runWorkload(`postgres://postgres:postgres@127.0.0.1:${listen}/${pair.name}`, { seed: 11, clients: 6, ops: 6000 });
    // reads are a small share of the workload's mix: on a loaded machine the first ones can take seconds
    let before = (await api('GET', '/status')).json;
    for (let i = 0; i < 100 && !(before.target?.reads > 0); i++) {
      await new Promise((r) => setTimeout(r, 100));
      before = (await api('GET', '/status')).json;
    }
    expect(before, JSON.stringify(before.gates)).toMatchObject({ phase: 'SHIFTING', effectiveReadPercent: 50 });
    expect(before.target.reads).toBeGreaterThan(0);

    const stopped = Date.now();
    await target.stop('immediate');
    const killedAt = Date.now();
    let readsZeroMs = -1;
    let rolledBackMs = -1;
    while (Date.now() - killedAt < 5_000 && rolledBackMs < 0) {
      const s = (await api('GET', '/status')).json;
      if (readsZeroMs < 0 && s.effectiveReadPercent === 0) readsZeroMs = Date.now() - killedAt;
      if (s.phase === 'ROLLED_BACK') rolledBackMs = Date.now() - killedAt;
      await new Promise((r) => setTimeout(r, 10));
    }
    console.log(`target stopped: pg_ctl -m immediate returned after ${killedAt - stopped} ms; from then, reads at 0 % after ${readsZeroMs} ms and phase ROLLED_BACK after ${rolledBackMs} ms (at most ${killedAt - stopped + rolledBackMs} ms from the stop command)`);
    expect(readsZeroMs).toBeGreaterThanOrEqual(0);
    expect(readsZeroMs).toBeLessThan(1000);
    expect(rolledBackMs).toBeGreaterThanOrEqual(0);
    expect(rolledBackMs).toBeLessThan(1000);

    const res = await load;
    expect(res.errors).toEqual([]);

    const s = (await api('GET', '/status')).json;
    expect(s).toMatchObject({ phase: 'ROLLED_BACK', readPercent: 0, effectiveReadPercent: 0 });
    const entry = s.history.find((h: any) => h.what === 'phase' && h.to === 'ROLLED_BACK');
    expect(entry).toMatchObject({ from: 'SHIFTING', actor: expect.stringContaining('gate watcher'), reason: expect.stringMatching(/^gate (breaker|errorRate|dirtyKeys) failed at 50 %: /) });

    for (let i = 0; i < 50 && !hooks.length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(hooks).toHaveLength(1);
    expect(hooks[0]!.body).toMatchObject({ event: 'rollback', reason: entry.reason, from: { phase: 'SHIFTING', readPercent: 50 }, to: { phase: 'ROLLED_BACK', readPercent: 0 } });
    expect(hooks[0]!.url).toContain(HOOK_SECRET);
    expect(proxy.log()).toContain('alert webhook called');
    expect(proxy.log()).not.toContain(HOOK_SECRET);

    // a step up is refused while the target is down, naming the gate
    const again = await api('POST', '/step');
    expect(again.status).toBe(409);
    expect(again.json.error).toMatch(/^step refused: gate \w+ fails: /);
    expect(again.json.gate).toMatchObject({ ok: false });
  }, 120_000);
});
