// The proxy refuses to start without its SQLite file (a typo in the path must
// not serve an empty database). A file moved or deleted while it runs is no
// source either: each new session opened it with "create if missing", so the
// next session made an empty database there and took the application's writes.
import { existsSync, renameSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { startSqliteProxy, type SqliteProxy } from './sqlite-harness.ts';

let sp: SqliteProxy;

beforeAll(async () => {
  sp = await startSqliteProxy();
  const c = new pg.Client({ connectionString: sp.url() });
  await c.connect();
  await c.query('CREATE TABLE t (id integer PRIMARY KEY, v text)');
  await c.query(`INSERT INTO t VALUES (1, 'kept')`);
  await c.end();
});
afterAll(() => sp?.close());

it('a session opened while the file is gone gets 08006 and no file is made; with the file back, sessions see its rows', async () => {
  const aside = `${sp.file}.aside`;
  renameSync(sp.file, aside);
  const c = new pg.Client({ connectionString: sp.url() });
  c.on('error', () => undefined);
  const e = await c.connect().then(() => null, (err: { code?: string; message: string }) => err);
  expect(e?.code).toBe('08006');
  expect(e?.message).toContain('cannot open the SQLite database file');
  expect(existsSync(sp.file)).toBe(false);
  renameSync(aside, sp.file);
  const again = new pg.Client({ connectionString: sp.url() });
  await again.connect();
  expect((await again.query('SELECT v FROM t')).rows).toEqual([{ v: 'kept' }]);
  await again.end();
});
