// SQLite REAL values in columns that become text or numeric on the target
// (no declared type, NUMERIC, DECIMAL): the copy writes SQLite's own text of
// the number (1.0, 1.0e+25, -1.0e-07), and verify compared JavaScript's
// (1, 1e+25, -1e-7): every such row, keys included, was reported different
// (or missing and extra) although the copy was exact.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

it('REALs in typeless and NUMERIC columns compare equal after the copy; a changed one is still found', async () => {
  const pair = await databasePair('sqlite_verify_reals');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-sqlite-reals-'));
  const file = path.join(dir, 'app.db');
  const db = new Database(file);
  db.exec(`CREATE TABLE m (k PRIMARY KEY, v);
           CREATE TABLE r (id INTEGER PRIMARY KEY, n NUMERIC, d DECIMAL(30, 10))`);
  // JavaScript numbers bind as REAL: 1 is stored as 1.0
  const m = db.prepare('INSERT INTO m VALUES (?, ?)');
  m.run(1, 'one');
  m.run(2.5, 100);
  m.run('text', 0.1 + 0.2);
  m.run(10n, 1e25);
  const r = db.prepare('INSERT INTO r VALUES (?, ?, ?)');
  r.run(1n, 1e25, 1.5);
  r.run(2n, -1e-7, 0.25);
  r.run(3n, 1.5e300, 12345678901234567168);
  r.run(4n, 12345678901234567168, null);
  r.run(5n, 7n, 2);
  db.close();
  const args = ['--source', `sqlite://${file}`, '--target', pair.targetUrl, '--state', path.join(dir, 's.db'), '--report-dir', dir];
  expect((await cli(['schema', '--apply', ...args])).code).toBe(2); // m has no declared types: listed
  expect((await cli(['backfill', ...args])).code).toBe(2); // a snapshot
  expect((await sql(pair.targetUrl, `SELECT k, v FROM m ORDER BY k`)).rows).toEqual([
    { k: '1.0', v: 'one' }, { k: '10', v: '1.0e+25' }, { k: '2.5', v: '100.0' }, { k: 'text', v: '0.30000000000000004' },
  ]);
  const v = await cli(['verify', ...args]);
  expect(v.stdout).toContain('all 2 table(s) equal (9 rows)');
  expect(v.code).toBe(0);

  await sql(pair.targetUrl, `UPDATE r SET n = n + 1 WHERE id = 1; UPDATE m SET v = '100' WHERE k = '2.5'`);
  const diff = await cli(['verify', ...args]);
  expect(diff.code).toBe(1);
  expect(diff.stdout).toContain('different id=1: n');
  expect(diff.stdout).toContain('different k=2.5: v');
});
