// After promote the new database is the source of truth: `cutover capture
// install|status|remove` act there, as the state store records it. They acted
// on --source (the legacy database, now the mirror): status said "not
// installed", and install put triggers on the mirror, whose change table the
// reverse applies filled with rows nothing drains.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { openStateStore } from '../../control/state/store.ts';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

const hasCapture = async (url: string) => (await sql(url, "SELECT to_regclass('cutover.changes') IS NOT NULL AS yes")).rows[0].yes as boolean;

it('capture commands follow the source of truth the state store records: the new database after promote', async () => {
  const pair = await databasePair('capture_side');
  for (const url of [pair.legacyUrl, pair.targetUrl]) await sql(url, 'CREATE TABLE t (id int PRIMARY KEY, v text)');
  const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-capture-side-')), 'state.db');
  const store = await openStateStore(state);
  await store.change(() => ({ phase: 'PROMOTED', sourceOfTruth: 'new' }), 'test', 'promoted');
  await store.close();
  const args = ['--source', pair.legacyUrl, '--target', pair.targetUrl, '--state', state];

  const install = await cli(['capture', 'install', '--skip-backup', ...args]);
  expect(install.code, install.stderr).toBe(0);
  expect(install.stdout).toContain('capture installed (on the new database: the source of truth since promote) on 1 table(s): public.t');
  expect({ legacy: await hasCapture(pair.legacyUrl), new: await hasCapture(pair.targetUrl) }).toEqual({ legacy: false, new: true });

  const status = await cli(['capture', 'status', ...args]);
  expect(status.code, status.stdout).toBe(0);
  expect(status.stdout).toMatch(/^capture installed \(on the new database/);

  expect((await cli(['capture', 'remove', ...args])).code).toBe(0);
  expect(await hasCapture(pair.targetUrl)).toBe(false);
});
