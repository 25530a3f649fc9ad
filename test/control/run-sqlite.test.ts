// `cutover run` with an SQLite source, the proxy and run in separate processes
// as an operator runs them: capture installed in the file by run's capture
// stage, history backfilled, verify, the read steps and promote; writes
// through the proxy after promote reach the file; `cutover rollback` brings
// the file back as the source of truth with capture in it again.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import Database from 'better-sqlite3';
import pg from 'pg';
import { recreateDatabase } from '../../common/local-postgres.ts';
import { applySchema } from '../../backfill/schema/apply.ts';
import { readSourceSchema } from '../../backfill/schema/read-source.ts';
import { freePort } from '../harness/postgres.ts';
import { cli, spawnCli, type RunningCli } from '../harness/cli.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'cutover-run-sqlite-'));
const file = path.join(tmp, 'app.db');
const source = `sqlite://${file}`;
const USERS = JSON.stringify([{ name: 'app', password: 'app-secret' }]);
let targetUrl: string;
let proxy: RunningCli;
let control: string;
let listen: string;

beforeAll(async () => {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, body BLOB);
    WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 500) INSERT INTO items (name, body) SELECT 'item ' || g, randomblob(g % 20) FROM s;`);
  db.close();
  const target = inject('target');
  await recreateDatabase(target.url, 'control_run_sqlite');
  const u = new URL(target.url);
  u.pathname = '/control_run_sqlite';
  targetUrl = u.toString();
  await applySchema(targetUrl, await readSourceSchema(source));
  control = `127.0.0.1:${await freePort()}`;
  listen = `127.0.0.1:${await freePort()}`;
  proxy = await spawnCli(['proxy', '--source', source, '--target', targetUrl, '--listen', listen, '--control', control, '--steps', '50,100'], 'control API listening', { CUTOVER_USERS: USERS });
});
afterAll(() => {
  proxy?.child.kill('SIGKILL');
});

const capture = () => {
  const db = new Database(file, { readonly: true });
  try {
    return Boolean(db.prepare(`SELECT 1 FROM sqlite_master WHERE name = '_cutover_changes'`).get());
  } finally {
    db.close();
  }
};

describe('cutover run, SQLite source', () => {
  it('walks capture (in the file) → backfill → verify → steps → promote; rollback brings the file back', async () => {
    const dirs = ['--backup-dir', path.join(tmp, 'backups'), '--report-dir', path.join(tmp, 'reports')];
    const r = await cli(['run', '--yes', '--soak', '1', '--control', control, '--source', source, '--target', targetUrl, ...dirs]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/capture: capture installed on 1 table\(s\)/);
    expect(r.stdout).toMatch(/backfill: 500 rows copied/);
    expect(r.stdout).toMatch(/verify: all 1 table\(s\) equal/);
    expect(r.stdout).toMatch(/promote: promoted: the new database is the source of truth/);
    expect(capture()).toBe(false);

    const c = new pg.Client({ connectionString: `postgres://app:app-secret@${listen}/control_run_sqlite` });
    await c.connect();
    const id = (await c.query(`INSERT INTO items (name, body) VALUES ('after promote', '\\x00ff'::bytea) RETURNING id`)).rows[0].id;
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT name, hex(body) AS body FROM items WHERE id = ?').get(Number(id))).toEqual({ name: 'after promote', body: '00FF' });
    db.close();

    const back = await cli(['rollback', '--control', control, '--reason', 'test']);
    expect(back.code, back.stderr).toBe(0);
    expect(capture()).toBe(true);
    const id2 = (await c.query(`INSERT INTO items (name) VALUES ('after rollback') RETURNING id`)).rows[0].id;
    await c.end();
    expect(Number(id2)).toBeGreaterThan(Number(id));
    const v = await cli(['verify', '--source', source, '--target', targetUrl, '--report-dir', path.join(tmp, 'reports')]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 180_000);
});
