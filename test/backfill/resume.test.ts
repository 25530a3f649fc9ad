// A backfill killed with SIGKILL halfway resumes from its checkpoints with
// --resume, finishes, and verify says equal.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { generateDataset } from '../../bench/gen-sqlite-dataset.ts';
import { CLI, cli } from '../harness/cli.ts';
import { databasePair } from '../harness/databases.ts';

it('kill -9 halfway, then --resume: completes and verify is equal', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-resume-'));
  const file = path.join(dir, 'ds.db');
  generateDataset(file, 20_000, 40_000, 7);
  const pair = await databasePair('backfill_resume');
  const common = ['--source', `sqlite://${file}`, '--target', pair.targetUrl, '--state', path.join(dir, 'state.db'), '--report-dir', dir];
  expect((await cli(['schema', '--apply', ...common])).code).toBe(0);
  expect((await cli(['capture', 'install', '--skip-backup', ...common])).code).toBe(0);

  // slowed down so that "halfway" is a moment a test can catch
  const child = spawn('node', [CLI, 'backfill', ...common, '--batch-size', '1000', '--workers', '1', '--max-rate', '15000', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.on('exit', r));
  let copied = 0;
  for (let i = 0; i < 300 && copied < 15_000; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const progress = out.split('\n').filter((l) => l.includes('"progress"')).map((l) => JSON.parse(l));
    copied = progress.filter((p) => p.table === 'sessions').pop()?.rows ?? 0;
  }
  expect(copied).toBeGreaterThanOrEqual(15_000);
  child.kill('SIGKILL');
  await exited;
  expect(out).not.toContain('"summary"');

  const resumed = await cli(['backfill', '--resume', ...common, '--json']);
  expect(resumed.stderr).toBe('');
  expect(resumed.code).toBe(0);
  const events = resumed.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const start = events.find((e) => e.event === 'start' && e.table === 'sessions');
  // sessions went first (tables in name order): it resumes past its checkpoint, not from zero
  expect(start.resumedAt).toBeGreaterThanOrEqual(15_000);
  expect(events.pop()).toMatchObject({ event: 'summary', rows: 60_000 });
  expect(start.resumedAt).toBeLessThan(40_000);

  const v = await cli(['verify', ...common]);
  expect(v.stdout).toContain('all 2 table(s) equal (60000 rows)');
  expect(v.code).toBe(0);
}, 180_000);

it('keeps checkpoints in Redis when the state store is Redis, and resumes from them', async () => {
  const redisUrl = inject('redisUrl');
  expect(redisUrl, 'the suite starts redis-server (apt: redis-server)').toBeTruthy();
  const state = `${redisUrl!.replace(/\/\d*$/, '')}/7`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-resume-redis-'));
  const file = path.join(dir, 'ds.db');
  generateDataset(file, 3_000, 2_000, 9);
  const pair = await databasePair('backfill_resume_redis');
  const common = ['--source', `sqlite://${file}`, '--target', pair.targetUrl, '--state', state, '--report-dir', dir];
  expect((await cli(['schema', '--apply', ...common])).code).toBe(0);
  const first = await cli(['backfill', ...common, '--json']);
  expect(first.code, first.stderr).toBe(2); // no capture: a snapshot, with the warning
  const redis = new Redis(state);
  try {
    const keys = await redis.keys('cutover:backfill:*');
    expect(keys).toHaveLength(1);
    const cps = await redis.hgetall(keys[0]!);
    expect(JSON.parse(cps.users!)).toMatchObject({ table: 'users', rows: 3_000, done: true });
  } finally {
    redis.disconnect();
  }
  // everything is done: a resumed run copies nothing again
  const again = await cli(['backfill', '--resume', ...common, '--json']);
  expect(JSON.parse(again.stdout.trim().split('\n').pop()!)).toMatchObject({ event: 'summary', rows: 5_000, tables: [{ table: 'sessions', skipped: true }, { table: 'users', skipped: true }] });
});
