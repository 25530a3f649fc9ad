// A backfill killed with SIGKILL halfway resumes from its checkpoints with
// --resume, finishes, and verify says equal: live (capture installed, the key
// index in place) and as a snapshot (loaded without the primary key, which
// the resumed run builds back after trimming what the killed one left past
// its last checkpoint).
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import Database from 'better-sqlite3';
import { generateDataset } from '../../bench/gen-sqlite-dataset.ts';
import { CLI, cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

const primaryKeys = async (url: string) =>
  (await sql(url, `SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'p' AND conrelid IN ('users'::regclass, 'sessions'::regclass)`)).rows[0].n as number;

it.each([
  { captured: true, split: false },
  { captured: false, split: false },
  { captured: true, split: true },
  { captured: false, split: true },
])('kill -9 halfway, then --resume: completes and verify is equal (capture installed: $captured, key ranges: $split)', async ({ captured, split }) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-resume-'));
  const file = path.join(dir, 'ds.db');
  generateDataset(file, 20_000, 40_000, 7);
  const pair = await databasePair(`backfill_resume_${captured ? 'live' : 'snapshot'}${split ? '_split' : ''}`);
  const common = ['--source', `sqlite://${file}`, '--target', pair.targetUrl, '--state', path.join(dir, 'state.db'), '--report-dir', dir];
  expect((await cli(['schema', '--apply', ...common])).code).toBe(0);
  if (captured) expect((await cli(['capture', 'install', '--skip-backup', ...common])).code).toBe(0);

  // slowed down so that "halfway" is a moment a test can catch
  // split: each table in two key ranges, copied at once by two workers, each range with its own checkpoint
  const workers = split ? ['--workers', '2', '--split-rows', '8000'] : ['--workers', '1'];
  const child = spawn('node', [CLI, 'backfill', ...common, '--batch-size', '1000', ...workers, '--max-rate', '15000', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  // a snapshot loads without the key index: the killed run left sessions (copied first) without its
  // primary key; users, not started, still has its own
  const sessionsKey = await sql(pair.targetUrl, `SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'p' AND conrelid = 'sessions'::regclass`);
  expect(sessionsKey.rows[0].n).toBe(captured ? 1 : 0);
  const ranges = new Database(path.join(dir, 'state.db'), { readonly: true });
  const saved = ranges.prepare(`SELECT tbl FROM backfill_checkpoints WHERE tbl LIKE 'sessions#%' ORDER BY tbl`).pluck().all();
  ranges.close();
  // a snapshot reads sessions (a TEXT key, not its rowid) in rowid order, and says so before its first batch
  const byRowid = captured ? [] : ['sessions#rowid'];
  expect(saved).toEqual(split ? ['sessions#1/2', 'sessions#2/2', ...byRowid, 'sessions#split'] : byRowid);

  const resumed = await cli(['backfill', '--resume', ...common, ...workers, '--json']);
  if (captured) expect(resumed.stderr).toBe('');
  else expect(resumed.stderr).toMatch(/^warning: change capture is not installed[^\n]*\n$/);
  expect(resumed.code).toBe(captured ? 0 : 2);
  expect(await primaryKeys(pair.targetUrl)).toBe(2);
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
