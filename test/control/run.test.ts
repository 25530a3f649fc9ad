// `cutover run`: the plan printed by --dry-run, confirmation required, and a
// real walk capture → backfill → verify → read steps → promote through a
// running proxy; then the steering commands: rollback after promote, promote
// refused before the last step unless --force, finalize.
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

  it('walks check → backup → capture → backfill → verify → the read steps → promote', async () => {
    const r = await run(['--yes', '--soak', '1', ...dirs]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/check: pre-flight passed/);
    expect(r.stdout).toMatch(/backup: backup .*control_run-.*\.dump, \d+ bytes, sha256 [0-9a-f]{64}/);
    expect(r.stdout).toMatch(/capture: capture installed on 1 table\(s\)/);
    expect(r.stdout).toMatch(/backfill: 500 rows copied/);
    expect(r.stdout).toMatch(/verify: all 1 table\(s\) equal/);
    expect(r.stdout).toMatch(/steps: reads at 100 %/);
    expect(r.stdout).toMatch(/promote: promoted: the new database is the source of truth \(new transactions paused \d+ ms; \d+ sequence\(s\) aligned; capture on 1 table\(s\)\)/);
    expect(r.stdout).toContain('run complete');
    const s = JSON.parse((await cli(['status', '--json', '--control', control])).stdout);
    expect(s).toMatchObject({ phase: 'PROMOTED', readPercent: 0, sourceOfTruth: 'new', paused: false, verifyResult: expect.stringMatching(/^passed .*: all 1 table\(s\) equal \(500 rows\)$/) });
    expect(s.history.map((h: { what: string; to: string }) => `${h.what}=${h.to}`)).toEqual(expect.arrayContaining(['phase=PREFLIGHT', 'phase=BACKUP', 'phase=CAPTURE', 'phase=BACKFILL', 'phase=VERIFY', 'phase=SHIFTING', 'readPercent=50', 'readPercent=100', 'paused=true', 'phase=PROMOTED', 'sourceOfTruth=new', 'paused=false']));
    const again = await run(['--yes', ...dirs]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('the migration is PROMOTED: nothing left for run (next: cutover finalize)');
  }, 120_000);

  it('rollback after promote, promote refused before the last step unless --force, then finalize', async () => {
    const steer = (args: string[]) => cli([...args, '--control', control]);
    const rb = await steer(['rollback', '--reason', 'test']);
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.stdout).toMatch(/^phase ROLLED_BACK; new transactions paused \d+ ms; source of truth: the legacy database again/);
    // the new database was the source of truth until this rollback: reads may go back to it without another verify
    const back = await steer(['reads', '50']);
    expect(back.code, back.stderr).toBe(0);
    const early = await steer(['promote']);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/409 promote: reads are at 50 %, not yet at the last plan step \(100 %\)/);
    const forced = await steer(['promote', '--force', '--promote-timeout', '5']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/^phase PROMOTED; new transactions paused \d+ ms; source of truth: the new database/);
    const fin = await steer(['finalize']);
    expect(fin.code, fin.stderr).toBe(0);
    expect(fin.stdout).toMatch(/^phase FINALIZED/);
    const left = await sql(pair.targetUrl, "SELECT to_regnamespace('cutover') IS NULL AS gone");
    expect(left.rows[0].gone).toBe(true);
  }, 120_000);
});
