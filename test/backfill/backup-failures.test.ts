// A backup that fails leaves nothing behind that could pass for a backup to
// restore from: a missing SQLite source left an empty .db, a pg_dump that
// failed half-way its partial .dump, and a state file the backup could not be
// recorded in was found only after the whole dump (exit 1, the backup kept).
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

const fresh = () => mkdtempSync(path.join(os.tmpdir(), 'cutover-backup-fail-'));

it('a missing SQLite source: exit 1 naming it, no backup file', async () => {
  const dir = fresh();
  const missing = path.join(dir, 'gone.db');
  const r = await cli(['backup', '--source', `sqlite://${missing}`, '--backup-dir', path.join(dir, 'b'), '--state', path.join(dir, 'state.db')]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`cutover: cannot open the source (legacy) database ${missing}: unable to open database file (SQLITE_CANTOPEN)\n`);
  expect(readdirSync(path.join(dir, 'b'))).toEqual([]);
});

it('pg_dump failing half-way: exit 1 with its reason, the partial dump removed', async () => {
  const pair = await databasePair('backup_failures');
  await sql(pair.legacyUrl, `
    CREATE TABLE open_t (id int PRIMARY KEY); INSERT INTO open_t SELECT generate_series(1, 1000);
    CREATE TABLE secret_t (id int PRIMARY KEY);
    DO $$ BEGIN CREATE ROLE backup_weak LOGIN PASSWORD 'weak-pw-1'; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
    GRANT SELECT ON open_t TO backup_weak;`);
  const u = new URL(pair.legacyUrl);
  u.username = 'backup_weak';
  u.password = 'weak-pw-1';
  const dir = fresh();
  const r = await cli(['backup', '--source', u.toString(), '--backup-dir', dir, '--state', path.join(dir, 'state.db')]);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^cutover: backup: pg_dump failed: .*permission denied for table secret_t\n$/);
  expect(readdirSync(dir).filter((f) => f.endsWith('.dump') || f.endsWith('.sha256'))).toEqual([]);
});

it('a state file the backup cannot be recorded in is refused before the dump, leaving no backup', async () => {
  const dir = fresh();
  const source = path.join(dir, 'app.db');
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(source);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
  db.close();
  const garbage = path.join(dir, 'state.db');
  writeFileSync(garbage, 'no database here\n'.repeat(64));
  const r = await cli(['backup', '--source', `sqlite://${source}`, '--backup-dir', path.join(dir, 'b'), '--state', garbage]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`cutover: --state ${garbage}: cannot open the state file: file is not a database (SQLITE_NOTADB)\n`);
  expect(readdirSync(path.join(dir, 'b'))).toEqual([]);
});
