// Capture installed by an older version keeps working without what came
// since (json null and array bounds, partitions): `capture status` says so,
// with exit 2, until `capture install` is run again.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

it('capture status tells an older capture format, and install brings it up to date', async () => {
  const pair = await databasePair('capture_format');
  await sql(pair.legacyUrl, 'CREATE TABLE t (id int PRIMARY KEY, doc jsonb)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-capture-format-'));
  const args = ['--source', pair.legacyUrl, '--state', path.join(dir, 'state.db')];
  const before = await cli(['capture', 'status', ...args]);
  expect(before.code, before.stdout).toBe(2);
  expect(before.stdout).toMatch(/^capture not installed/);
  expect((await cli(['capture', 'install', '--skip-backup', ...args])).code).toBe(0);
  const fresh = await cli(['capture', 'status', ...args]);
  expect(fresh.code, fresh.stdout + fresh.stderr).toBe(0);
  expect(fresh.stdout).not.toMatch(/format/);
  // what an install before capture formats were recorded leaves
  await sql(pair.legacyUrl, 'COMMENT ON SCHEMA cutover IS NULL');
  const old = await cli(['capture', 'status', ...args]);
  expect(old.code).toBe(2);
  expect(old.stdout).toMatch(/capture format older installed, this Cutover writes \d+: run "cutover capture install" again/);
  expect(JSON.parse((await cli(['capture', 'status', '--json', ...args])).stdout).format).toMatchObject({ installed: null });
  expect((await cli(['capture', 'install', '--skip-backup', ...args])).code).toBe(0);
  expect((await cli(['capture', 'status', ...args])).code).toBe(0);
});
