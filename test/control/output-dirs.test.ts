// A directory a command writes into that cannot be made: Node's recursive mkdir
// spun at 100 % CPU for ever under /proc (`cutover backup --backup-dir /proc/nope`).
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';

it('an uncreatable --backup-dir or --report-dir is one line and exit 1 at once', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-dirs-'));
  const file = path.join(dir, 'app.db');
  new Database(file).exec('CREATE TABLE t (id INTEGER PRIMARY KEY)').close();
  const t0 = Date.now();
  const backup = await cli(['backup', '--source', `sqlite://${file}`, '--backup-dir', '/proc/nope', '--state', path.join(dir, 'state.db')], {}, { timeoutMs: 15_000 });
  expect(backup.code).toBe(1);
  expect(backup.stderr).toBe('cutover: --backup-dir /proc/nope: cannot create /proc/nope (ENOENT)\n');
  expect(Date.now() - t0).toBeLessThan(10_000);
  const verify = await cli(['verify', '--source', `sqlite://${file}`, '--target', 'postgres://x@127.0.0.1:1/x', '--report-dir', '/proc/nope/reports'], {}, { timeoutMs: 15_000 });
  expect(verify.code).toBe(1);
  expect(verify.stderr).toBe('cutover: --report-dir /proc/nope/reports: cannot create /proc/nope (ENOENT)\n');
  // a directory that can be made still is, and the backup lands in it
  const ok = await cli(['backup', '--source', `sqlite://${file}`, '--backup-dir', path.join(dir, 'a', 'b'), '--state', path.join(dir, 'state.db')], {}, { timeoutMs: 15_000 });
  expect(ok.code, ok.stderr).toBe(0);
  expect(ok.stdout).toContain(`backup: ${path.join(dir, 'a', 'b')}/app-`);
});

it('a --report-dir or --backup-dir that exists but takes no files is one line and exit 1 before any work, not EACCES after it', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-dirs-'));
  const file = path.join(dir, 'app.db');
  new Database(file).exec('CREATE TABLE t (id INTEGER PRIMARY KEY)').close();
  // sysfs takes no new files, for root too (a chmod 555 directory does not stop root)
  const verify = await cli(['verify', '--source', `sqlite://${file}`, '--target', 'postgres://x@127.0.0.1:1/x', '--report-dir', '/sys'], {}, { timeoutMs: 15_000 });
  expect(verify.code).toBe(1);
  expect(verify.stderr).toMatch(/^cutover: --report-dir \/sys: cannot write there \((EACCES|EPERM|EROFS)\)\n$/);
  const backup = await cli(['backup', '--source', `sqlite://${file}`, '--backup-dir', '/sys/kernel', '--state', path.join(dir, 'state.db')], {}, { timeoutMs: 15_000 });
  expect(backup.code).toBe(1);
  expect(backup.stderr).toMatch(/^cutover: --backup-dir \/sys\/kernel: cannot write there \((EACCES|EPERM|EROFS)\)\n$/);
});
