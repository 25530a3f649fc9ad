// `cutover run`: the plan printed by --dry-run, confirmation required, and a
// real walk capture → backfill → verify → read steps through a running proxy,
// stopping with the reason and the resume command at a stage this build lacks.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';
import { cli, spawnCli, type RunningCli } from '../harness/cli.ts';

let pair: DbPair;
let proxy: RunningCli;
let control: string;

beforeAll(async () => {
  pair = await databasePair('control_run');
  const schema = 'CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)';
  await sql(pair.legacyUrl, schema);
  await sql(pair.targetUrl, schema);
  await sql(pair.legacyUrl, "INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 500) g");
  control = `127.0.0.1:${await freePort()}`;
  proxy = await spawnCli(['proxy', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--listen', `127.0.0.1:${await freePort()}`, '--control', control, '--steps', '50,100'], 'control API listening');
});
afterAll(() => {
  proxy?.child.kill('SIGKILL');
});

const tmp = mkdtempSync(path.join(os.tmpdir(), 'cutover-run-'));
const dirs = ['--backup-dir', path.join(tmp, 'backups'), '--report-dir', path.join(tmp, 'reports')];
const run = (args: string[]) => cli(['run', '--control', control, '--source', pair.legacyUrl, '--target', pair.targetUrl, ...args]);

describe('cutover run', () => {
  it('--dry-run prints the plan and changes nothing', async () => {
    const r = await run(['--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('plan (dry run: nothing changed)');
    expect(r.stdout).toMatch(/check\s+PREFLIGHT\s+run/);
    expect(r.stdout).toMatch(/backup\s+BACKUP\s+run/);
    expect(r.stdout).toMatch(/capture\s+CAPTURE\s+run/);
    expect(r.stdout).toContain('plan 50 → 100 %');
    const s = await cli(['status', '--json', '--control', control]);
    expect(JSON.parse(s.stdout)).toMatchObject({ phase: 'NOT_STARTED' });
  });

  it('refuses to start without --yes when stdin is not a terminal', async () => {
    const r = await run([]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cutover: run changes the migration: confirm with --yes/);
  });

  it('stops at the first failing stage (check: a table without a key), with the reason and the command to resume', async () => {
    await sql(pair.legacyUrl, 'CREATE TABLE keyless (a int)');
    const r = await run(['--yes', ...dirs]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/error: keyless: no primary key/);
    expect(r.stderr).toMatch(/^cutover: run stopped at check: check found 1 error\(s\).*; resume with: cutover run --yes --control /);
    await sql(pair.legacyUrl, 'DROP TABLE keyless');
  });

  it('walks check → backup → capture → backfill → verify → the read steps, then stops at promote', async () => {
    const r = await run(['--yes', '--soak', '1', ...dirs]);
    expect(r.stdout).toMatch(/check: pre-flight passed/);
    expect(r.stdout).toMatch(/backup: backup .*control_run-.*\.dump, \d+ bytes, sha256 [0-9a-f]{64}/);
    expect(r.stdout).toMatch(/capture: capture installed on 1 table\(s\)/);
    expect(r.stdout).toMatch(/backfill: 500 rows copied/);
    expect(r.stdout).toMatch(/verify: all 1 table\(s\) equal/);
    expect(r.stdout).toMatch(/steps: reads at 100 %/);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/run stopped at promote: stage promote is not available in this build/);
    const s = JSON.parse((await cli(['status', '--json', '--control', control])).stdout);
    expect(s).toMatchObject({ phase: 'SHIFTING', readPercent: 100, planStep: 1 });
    expect(s.history.map((h: { what: string; to: string }) => `${h.what}=${h.to}`)).toEqual(expect.arrayContaining(['phase=PREFLIGHT', 'phase=BACKUP', 'phase=CAPTURE', 'phase=BACKFILL', 'phase=VERIFY', 'phase=SHIFTING', 'readPercent=50', 'readPercent=100']));
    // resumed with promote skipped: nothing left but the soak of the last step
    const again = await run(['--yes', '--skip', 'check,backup,promote', '--soak', '1', ...dirs]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('run complete');
  }, 120_000);
});
