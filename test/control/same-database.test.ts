// A target pasted from the source passed every check: check found nothing,
// verify compared the database with itself ("equal"), backfill copied 0 rows
// and reported success. Refused now: the same host:port/dbname at once for
// every command, and one database reached by two names (localhost and
// 127.0.0.1) by cutover check, which asks the servers.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';

let pair: DbPair;
let dir: string;
beforeAll(async () => {
  pair = await databasePair('same_database');
  await sql(pair.legacyUrl, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)');
  dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-same-'));
});

it('the same URL (another user or options alike) for source and target is refused by every command, exit 1', async () => {
  const other = new URL(pair.legacyUrl);
  other.searchParams.set('sslmode', 'disable');
  const where = `${new URL(pair.legacyUrl).host}/same_database`;
  for (const cmd of [['verify'], ['backfill'], ['check'], ['schema', '--apply']]) {
    const r = await cli([...cmd, '--source', pair.legacyUrl, '--target', other.toString(), '--state', path.join(dir, 'state.db'), '--report-dir', dir, '--backup-dir', dir]);
    expect(r.code, cmd[0]).toBe(1);
    expect(r.stderr, cmd[0]).toBe(`cutover: source and target are the same database (${where}): the target must be the new database\n`);
  }
});

it('cutover check finds one database reached by two names', async () => {
  const alias = new URL(pair.legacyUrl);
  alias.hostname = 'localhost';
  const r = await cli(['check', '--source', pair.legacyUrl, '--target', alias.toString(), '--report-dir', dir, '--backup-dir', dir]);
  expect(r.code).toBe(1);
  expect(r.stdout).toContain('the source and the target are one database, reached by two names: the target must be the new database');
  // the pair's two databases are not one
  const apart = await cli(['check', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--report-dir', dir, '--backup-dir', dir]);
  expect(apart.stdout).not.toContain('one database, reached by two names');
});
