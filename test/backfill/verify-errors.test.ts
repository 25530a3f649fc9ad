// A verify that fails on one table says which: "permission denied for table
// b" alone (or "function trim_scale(numeric[]) does not exist", as a column
// type once gave) left the operator to guess among every table.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

it('a verify that fails on a table names it, in one line, exit 1', async () => {
  const pair = await databasePair('verify_errors');
  const schema = `CREATE TABLE a (id int PRIMARY KEY, v text); CREATE TABLE b (id int PRIMARY KEY, v text); INSERT INTO a VALUES (1, 'x'); INSERT INTO b VALUES (1, 'y')`;
  await sql(pair.legacyUrl, schema);
  await sql(pair.targetUrl, schema);
  // a role that may read a on the new database, not b
  await sql(pair.targetUrl, `DO $$ BEGIN CREATE ROLE cutover_verify_reader LOGIN PASSWORD 'reader'; EXCEPTION WHEN duplicate_object THEN NULL; END $$; GRANT SELECT ON a TO cutover_verify_reader`);
  const reader = new URL(pair.targetUrl);
  reader.username = 'cutover_verify_reader';
  reader.password = 'reader';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-verify-errors-'));
  const r = await cli(['verify', '--source', pair.legacyUrl, '--target', reader.toString(), '--report-dir', dir, '--state', path.join(dir, 'none.db')]);
  expect(r.code).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^cutover: b: permission denied for table b/);
  expect(r.stderr).not.toContain('reader@');
});
