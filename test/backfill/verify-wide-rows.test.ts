// verify on a table of wide rows: a chunk's rows were hashed as one
// string_agg of their text, which PostgreSQL caps at 1 GB, so verify failed
// ("out of memory") on any chunk of more than 1 GB of canonical text (here
// 5 rows of 110 MB bytea, 220 MB each as hex; 24 rows of 26 MB did it too).
// Each row is now hashed on its own, and a differing chunk's long values are
// held as digests (the same on an SQLite source); a change is still found.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

it('5 rows of 110 MB compare equal', async () => {
  const pair = await databasePair('verify_wide_rows');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-wide-'));
  // the same rows made on both sides (a copy of 550 MB would only slow the test down)
  const make = `CREATE TABLE w (id int PRIMARY KEY, b bytea);
    INSERT INTO w SELECT g, decode(repeat(lpad(to_hex(g), 2, '0'), 110000000), 'hex') FROM generate_series(1, 5) g`;
  await Promise.all([sql(pair.legacyUrl, make), sql(pair.targetUrl, make)]);
  const v = await cli(['verify', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--report-dir', dir]);
  expect(v.stderr).toBe('');
  expect(v.stdout).toContain('all 1 table(s) equal (5 rows)');
  expect(v.code).toBe(0);
}, 600_000);

it('an SQLite source hashes its rows the same way: equal, and a changed long text found by its digest', async () => {
  const pair = await databasePair('verify_wide_rows_sqlite');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-wide-'));
  const file = path.join(dir, 'app.db');
  const db = new Database(file);
  db.exec(`CREATE TABLE d (id INTEGER PRIMARY KEY, body TEXT, short TEXT)`);
  const ins = db.prepare('INSERT INTO d VALUES (?, ?, ?)');
  db.transaction(() => { for (let i = 1; i <= 20; i++) ins.run(i, `ü|\\\n${i}`.repeat(2000 * i), `s${i}`); })();
  db.close();
  const args = ['--source', `sqlite://${file}`, '--target', pair.targetUrl, '--state', path.join(dir, 's.db'), '--report-dir', dir];
  expect((await cli(['schema', '--apply', ...args])).code).toBe(0);
  expect((await cli(['backfill', ...args])).code).toBe(2); // a snapshot
  const v = await cli(['verify', ...args]);
  expect(v.stdout).toContain('all 1 table(s) equal (20 rows)');
  expect(v.code).toBe(0);
  await sql(pair.targetUrl, `UPDATE d SET body = body || 'x' WHERE id = 7; UPDATE d SET short = 'changed' WHERE id = 9`);
  const diff = await cli(['verify', ...args]);
  expect(diff.stdout).toContain('different id=7: body');
  expect(diff.stdout).toContain('different id=9: short');
  expect(diff.code).toBe(1);
});
