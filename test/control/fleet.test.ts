// Two proxies sharing a Redis state store: a change made through one reaches
// the other through pub/sub; with Redis gone both keep their state, say they
// are degraded, and refuse to raise reads; when it is back they converge.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databasePair, type DbPair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';
import { redisAvailable } from '../harness/redis.ts';
import { spawnCli, type RunningCli } from '../harness/cli.ts';

let pair: DbPair;
let redisPort: number;
let redis: ChildProcess | null = null;
const proxies: { run: RunningCli; control: string }[] = [];

/** A Redis of this file's own, on a fixed port so it can be stopped and started again. */
async function startRedisOn(port: number): Promise<ChildProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('redis-server did not start');
}

async function stopRedis(): Promise<void> {
  if (!redis) return;
  const r = redis;
  redis = null;
  r.kill('SIGKILL');
  await new Promise((res) => r.once('exit', res));
}

async function api(control: string, method: string, p: string, body?: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`http://${control}${p}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

async function until(what: string, ok: () => Promise<boolean>, ms = 10_000): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (await ok()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((xs.length * p) / 100) - 1)]!;

beforeAll(async () => {
  if (!redisAvailable()) return;
  pair = await databasePair('control_fleet');
  redisPort = await freePort();
  redis = await startRedisOn(redisPort);
  for (let i = 0; i < 2; i++) {
    const control = `127.0.0.1:${await freePort()}`;
    const run = await spawnCli(['proxy', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--listen', `127.0.0.1:${await freePort()}`, '--control', control, '--state', `redis://127.0.0.1:${redisPort}/3`], 'control API listening');
    proxies.push({ run, control });
  }
});
afterAll(async () => {
  for (const p of proxies) p.run.child.kill('SIGKILL');
  await stopRedis();
});

describe.skipIf(!redisAvailable())('fleet mode: two proxies, one Redis state store', () => {
  it('`reads 25` through one proxy is seen by both; 100 changes measured', async () => {
    const [a, b] = proxies as [typeof proxies[0], typeof proxies[0]];
    for (const p of ['PREFLIGHT', 'BACKUP', 'CAPTURE', 'BACKFILL', 'VERIFY']) expect((await api(a.control, 'PUT', '/phase', { phase: p })).status).toBe(200);
    await until('proxy B in VERIFY', async () => (await api(b.control, 'GET', '/status')).json.phase === 'VERIFY');
    // a verify recorded through one proxy lets reads start through any of them
    expect((await api(a.control, 'POST', '/verify', { passed: true, summary: 'test: both databases equal' })).status).toBe(200);
    await until('proxy B sees the verify pass', async () => Boolean((await api(b.control, 'GET', '/status')).json.verifiedAt));
    const seen: number[] = [];
    for (let i = 0; i < 100; i++) {
      const percent = i === 0 ? 25 : 1 + ((i * 37) % 100);
      const t0 = performance.now();
      const put = await api(a.control, 'PUT', '/reads', { percent });
      expect(put.status).toBe(200);
      expect(put.json.readPercent).toBe(percent); // the proxy that took the change applies it before answering
      for (;;) {
        const s = await api(b.control, 'GET', '/status');
        if (s.json.readPercent === percent) break;
        if (performance.now() - t0 > 5_000) throw new Error(`proxy B did not see reads ${percent} within 5 s`);
      }
      seen.push(performance.now() - t0);
    }
    const max = Math.max(...seen);
    console.log(`fleet propagation over ${seen.length} changes (PUT on A until B's /status shows it, HTTP round trips included): max ${max.toFixed(1)} ms, p99 ${percentile(seen, 99).toFixed(1)} ms, p50 ${percentile(seen, 50).toFixed(1)} ms`);
    expect(max).toBeLessThan(1000);
    const s = await api(b.control, 'GET', '/status');
    expect(s.json.store).toMatchObject({ kind: 'redis' });
    expect(s.json.history.slice(-3)).toEqual(expect.arrayContaining([expect.objectContaining({ what: 'readPercent', actor: expect.stringContaining('operator via API') })]));
  });

  it('/metrics on either proxy adds up the fleet', async () => {
    const [a, b] = proxies as [typeof proxies[0], typeof proxies[0]];
    const scrape = async (control: string) => {
      const res = await fetch(`http://${control}/metrics`);
      return { proxies: res.headers.get('x-cutover-proxies'), text: await res.text() };
    };
    const [ma, mb] = [await scrape(a.control), await scrape(b.control)];
    expect(ma.proxies).toBe('2');
    expect(mb.proxies).toBe('2');
    const reads = (text: string) => Number(/^cutover_read_percent (\S+)$/m.exec(text)?.[1]);
    // a gauge of the shared state is the fleet's (max), not the sum of two proxies
    expect(reads(ma.text)).toBe((await api(a.control, 'GET', '/status')).json.readPercent);
    expect(ma.text).toMatch(/^# TYPE cutover_queries_total counter$/m);
  });

  it('with Redis gone both keep their state and report degraded; reads cannot go up, a rollback still applies locally; both converge when it is back', async () => {
    const [a, b] = proxies as [typeof proxies[0], typeof proxies[0]];
    expect((await api(a.control, 'PUT', '/reads', { percent: 50 })).status).toBe(200);
    await until('B at 50 %', async () => (await api(b.control, 'GET', '/status')).json.readPercent === 50);
    await stopRedis();
    for (const p of proxies) {
      await until('degraded', async () => Boolean((await api(p.control, 'GET', '/status')).json.degraded), 5_000);
      const s = (await api(p.control, 'GET', '/status')).json;
      expect(s).toMatchObject({ phase: 'SHIFTING', readPercent: 50, effectiveReadPercent: 50 });
      expect(s.degraded).toMatch(/state store redis:\/\/127\.0\.0\.1:\d+\/3 unreachable/);
      expect((await api(p.control, 'GET', '/readyz')).status).toBe(503);
    }
    const up = await api(a.control, 'PUT', '/reads', { percent: 75 });
    expect(up.status).toBe(503);
    expect(up.json.error).toContain('unreachable');
    const rb = await api(a.control, 'POST', '/rollback', { reason: 'redis down drill' });
    expect(rb.status).toBe(200);
    expect(rb.json).toMatchObject({ phase: 'ROLLED_BACK', readPercent: 0 });
    // B cannot hear about it, and stays where it was rather than guessing
    expect((await api(b.control, 'GET', '/status')).json).toMatchObject({ phase: 'SHIFTING', readPercent: 50 });

    redis = await startRedisOn(redisPort); // empty: no persistence
    for (const p of proxies) {
      let last: Record<string, any> = {};
      const ms = await until('converged on the rollback', async () => {
        const s = (last = (await api(p.control, 'GET', '/status')).json);
        return !s.degraded && s.phase === 'ROLLED_BACK' && s.readPercent === 0;
      }).catch((e: Error) => {
        throw new Error(`${e.message}: ${JSON.stringify({ phase: last.phase, readPercent: last.readPercent, degraded: last.degraded, store: last.store, history: last.history?.slice(-4) })}\n${p.run.log().slice(-1500)}`);
      });
      console.log(`proxy ${p.control}: back from degraded and on the rollback ${ms} ms after Redis restarted`);
      expect((await api(p.control, 'GET', '/readyz')).status).toBe(200);
    }
  }, 60_000);
});
