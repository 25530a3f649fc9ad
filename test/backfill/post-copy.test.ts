// What the backfill builds after the rows are in, while other tables are still
// copying: a foreign key that references a UNIQUE column (not the key) must
// wait for that unique constraint, and one table's indexes must not wait for
// the others. Also: a NULL in an SQLite text key (a rowid table allows it)
// fails the copy loudly instead of arriving as some placeholder text.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

it('builds uniques before the foreign keys that reference them, each as soon as its tables are in', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-postcopy-'));
  const file = path.join(dir, 'app.db');
  const db = new Database(file);
  db.exec(`
    CREATE TABLE parents (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, label TEXT);
    CREATE TABLE children (id TEXT PRIMARY KEY, parent_code TEXT NOT NULL REFERENCES parents (code), n INTEGER);
    CREATE INDEX children_n ON children (n);
    CREATE TABLE solo (id INTEGER PRIMARY KEY, v TEXT);
    CREATE INDEX solo_v ON solo (v);`);
  db.transaction(() => {
    const p = db.prepare('INSERT INTO parents (code, label) VALUES (?, ?)');
    for (let i = 0; i < 20_000; i++) p.run(`code-${i}`, i % 3 ? null : `"label" ${i}`);
    const c = db.prepare('INSERT INTO children VALUES (?, ?, ?)');
    for (let i = 0; i < 20_000; i++) c.run(`child-${(i * 7919) % 20_000}`, `code-${i % 20_000}`, i);
    const s = db.prepare('INSERT INTO solo (v) VALUES (?)');
    for (let i = 0; i < 500; i++) s.run(`v${i}`);
  })();
  db.close();
  const pair = await databasePair('backfill_postcopy');
  const common = ['--source', `sqlite://${file}`, '--target', pair.targetUrl, '--state', path.join(dir, 'state.db'), '--report-dir', dir];
  expect((await cli(['schema', '--apply', ...common])).code).toBe(0);
  const r = await cli(['backfill', ...common, '--workers', '2', '--batch-size', '3000', '--json']);
  expect(r.stderr).not.toMatch(/error/i);
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
  expect(summary).toMatchObject({ event: 'summary', rows: 40_500 });
  expect(summary.postCopy).toEqual(expect.arrayContaining(['unique constraint parents_code_key on parents', 'foreign key children_parent_code_fkey on children', 'index children_n on children', 'index solo_v on solo']));
  const fk = await sql(pair.targetUrl, `SELECT convalidated FROM pg_constraint WHERE conname = 'children_parent_code_fkey'`);
  expect(fk.rows[0].convalidated).toBe(true);
  // the constraint is real: a child of no parent is refused
  await expect(sql(pair.targetUrl, `INSERT INTO children VALUES ('orphan', 'code-none', 1)`)).rejects.toThrow(/foreign key/);
  const v = await cli(['verify', ...common]);
  expect(v.stdout).toContain('all 3 table(s) equal (40500 rows)');
  // a second run finds everything built and builds nothing twice
  const again = await cli(['backfill', ...common, '--json']);
  expect(JSON.parse(again.stdout.trim().split('\n').pop()!).postCopy).toEqual([]);
});

it('refuses a NULL in a text key with a clear error, leaving no placeholder row', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-nullkey-'));
  const file = path.join(dir, 'app.db');
  const db = new Database(file);
  db.exec(`CREATE TABLE tags (name TEXT PRIMARY KEY, note TEXT NOT NULL)`);
  db.prepare('INSERT INTO tags VALUES (?, ?)').run('a', 'x');
  db.prepare('INSERT INTO tags VALUES (?, ?)').run(null, 'null key');
  db.close();
  const pair = await databasePair('backfill_nullkey');
  const common = ['--source', `sqlite://${file}`, '--target', pair.targetUrl, '--state', path.join(dir, 'state.db'), '--report-dir', dir];
  expect((await cli(['schema', '--apply', ...common])).code).toBe(0);
  const r = await cli(['backfill', ...common]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/tags: batch .* failed: .*null value in column "name"/);
  expect((await sql(pair.targetUrl, `SELECT count(*)::int AS n FROM tags`)).rows[0].n).toBe(0);
});
