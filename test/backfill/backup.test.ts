// Backups before capture: SQLite through its online backup API, PostgreSQL
// through pg_dump; files 0600 with their SHA-256 beside them.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

it('backs up an SQLite source while it is open for writing: 0600, checksum recorded, same rows', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-backup-'));
  const file = path.join(dir, 'app.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) SELECT hex(randomblob(16)) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) SELECT x FROM c);');
  const r = await cli(['backup', '--source', `sqlite://${file}`, '--backup-dir', path.join(dir, 'b'), '--state', path.join(dir, 'state.db'), '--json']);
  db.close();
  expect(r.code, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(statSync(out.file).mode & 0o777).toBe(0o600);
  expect(sha(out.file)).toBe(out.sha256);
  expect(readFileSync(out.file + '.sha256', 'utf8')).toContain(out.sha256);
  const copy = new Database(out.file, { readonly: true });
  expect(copy.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 5000 });
  copy.close();
  const state = new Database(path.join(dir, 'state.db'), { readonly: true });
  expect(state.prepare('SELECT sha256 FROM backups').get()).toEqual({ sha256: out.sha256 });
  state.close();
});

it('capture install takes a pg_dump backup first, once; --skip-backup opts out', async () => {
  const pair = await databasePair('backup_pg');
  await sql(pair.legacyUrl, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g");
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-backup-pg-'));
  const args = ['--source', pair.legacyUrl, '--backup-dir', dir, '--state', path.join(dir, 'state.db')];
  const r = await cli(['capture', 'install', ...args]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^backup .*backup_pg-.*\.dump \(sha256 [0-9a-f]{16}…\); capture installed on 1 table/);
  const dumps = readdirSync(dir).filter((f) => f.endsWith('.dump'));
  expect(dumps).toHaveLength(1);
  const dump = path.join(dir, dumps[0]!);
  expect(statSync(dump).mode & 0o777).toBe(0o600);
  expect(readFileSync(dump).subarray(0, 5).toString()).toBe('PGDMP'); // pg_dump's custom format
  expect(readFileSync(dump + '.sha256', 'utf8').split(' ')[0]).toBe(sha(dump));
  expect(r.stdout + r.stderr).not.toContain('postgres:postgres');
  // installed already: running install again takes no second backup
  expect((await cli(['capture', 'install', ...args])).code).toBe(0);
  expect(readdirSync(dir).filter((f) => f.endsWith('.dump'))).toHaveLength(1);
  await cli(['capture', 'remove', ...args]);
  expect((await cli(['capture', 'install', '--skip-backup', ...args])).code).toBe(0);
  expect(readdirSync(dir).filter((f) => f.endsWith('.dump'))).toHaveLength(1);
});
