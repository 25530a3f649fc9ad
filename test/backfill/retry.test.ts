// Transient failures mid-backfill: the target's backfill sessions are killed
// (pg_terminate_backend); the batch is taken again on new connections and the
// copy completes equal, no batch applied twice or half: live (the key index
// in place) and as a snapshot (no key index during the load, so a retried
// batch first removes whatever its failed attempt committed).
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { generateDataset } from '../../bench/gen-sqlite-dataset.ts';
import { CLI, cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

it.each([true, false])('retries a batch after its target connection is killed, then completes equal (capture installed: %s)', async (captured) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-retry-'));
  const file = path.join(dir, 'ds.db');
  generateDataset(file, 30_000, 10_000, 11);
  const pair = await databasePair(`backfill_retry_${captured ? 'live' : 'snapshot'}`);
  const common = ['--source', `sqlite://${file}`, '--target', pair.targetUrl, '--state', path.join(dir, 'state.db'), '--report-dir', dir];
  expect((await cli(['schema', '--apply', ...common])).code).toBe(0);
  if (captured) expect((await cli(['capture', 'install', '--skip-backup', ...common])).code).toBe(0);
  const child = spawn('node', [CLI, 'backfill', ...common, '--batch-size', '1000', '--workers', '1', '--max-rate', '10000', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number>((r) => child.on('exit', (c) => r(c ?? -1)));
  while (!out.includes('"progress"')) await new Promise((r) => setTimeout(r, 50));
  let killed = 0;
  for (let i = 0; i < 100 && !killed; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const r = await sql(pair.targetUrl, `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = 'cutover backfill' AND pid <> pg_backend_pid()`);
    killed += r.rows[0].n;
  }
  expect(killed).toBeGreaterThan(0);
  expect(await exited, err).toBe(captured ? 0 : 2);
  const events = out.trim().split('\n').map((l) => JSON.parse(l));
  expect(events.some((e) => e.event === 'retry')).toBe(true);
  expect(events.pop()).toMatchObject({ event: 'summary', rows: 40_000 });
  const v = await cli(['verify', ...common]);
  expect(v.stdout).toContain('all 2 table(s) equal (40000 rows)');
  const keys = await sql(pair.targetUrl, `SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'p' AND conrelid IN ('users'::regclass, 'sessions'::regclass)`);
  expect(keys.rows[0].n).toBe(2);
}, 120_000);
