// A transaction block that opens with SAVEPOINT (pgjdbc's autosave, psql's
// ON_ERROR_ROLLBACK, pgbench scripts) on the SQLite source: PostgreSQL's
// SAVEPOINT takes no snapshot, so a write after another session's commit
// succeeds at READ COMMITTED; it must not fail with 40001 here either.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { PASSWORD, USER, startSqliteProxy, type SqliteProxy } from './sqlite-harness.ts';

const run = promisify(execFile);
let sp: SqliteProxy;

beforeAll(async () => {
  sp = await startSqliteProxy();
  const c = new pg.Client(sp.url());
  await c.connect();
  await c.query('CREATE TABLE accounts (id integer PRIMARY KEY, balance integer NOT NULL)');
  await c.query('CREATE TABLE tellers (id integer PRIMARY KEY, balance integer NOT NULL)');
  await c.query('INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 1000) g');
  await c.query('INSERT INTO tellers SELECT g, 0 FROM generate_series(1, 4) g');
  await c.end();
});
afterAll(async () => {
  await sp?.close();
});

describe('SAVEPOINT first in a block on the SQLite source', () => {
  it('a write after SAVEPOINT that waited for another writer commits (extended protocol)', async () => {
    const [a, b] = [new pg.Client(sp.url()), new pg.Client(sp.url())];
    await Promise.all([a.connect(), b.connect()]);
    try {
      await b.query('BEGIN');
      await b.query('UPDATE tellers SET balance = balance + 1 WHERE id = 1');
      await a.query('BEGIN');
      await a.query('SAVEPOINT s');
      // a parameter: Parse, Bind, Execute, as drivers send a write; it waits for b's write lock
      const write = a.query('UPDATE accounts SET balance = balance + 1 WHERE id = $1', [1]);
      write.catch(() => undefined);
      // time for it to reach the proxy and wait there (it cannot finish before b's COMMIT)
      await new Promise((r) => setTimeout(r, 200));
      await b.query('COMMIT');
      expect((await write).rowCount).toBe(1);
      await a.query('RELEASE SAVEPOINT s');
      await a.query('COMMIT');
      expect((await a.query('SELECT balance FROM accounts WHERE id = 1')).rows).toEqual([{ balance: '1' }]);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('savepoints made before the first statement are released and rolled back to as PostgreSQL does', async () => {
    const c = new pg.Client(sp.url());
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query('SAVEPOINT a');
      await c.query('SAVEPOINT b');
      await c.query('RELEASE SAVEPOINT b');
      await expect(c.query('ROLLBACK TO SAVEPOINT b')).rejects.toMatchObject({ code: '3B001', message: 'savepoint "b" does not exist' });
      await c.query('ROLLBACK TO SAVEPOINT a');
      await c.query('UPDATE accounts SET balance = 100 WHERE id = 2');
      await c.query('SAVEPOINT c');
      await c.query('UPDATE accounts SET balance = 200 WHERE id = 2');
      await c.query('ROLLBACK TO SAVEPOINT a');
      await c.query('UPDATE accounts SET balance = balance + 5 WHERE id = 3');
      await c.query('COMMIT');
      expect((await c.query('SELECT id, balance FROM accounts WHERE id IN (2, 3) ORDER BY id')).rows).toEqual([{ id: '2', balance: '0' }, { id: '3', balance: '5' }]);
    } finally {
      await c.end();
    }
  });

  it('pgbench with SAVEPOINT before each write, 8 clients, extended and prepared: no failed transaction', async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-savepoint-')), 'savepoints.sql');
    writeFileSync(file, [
      '\\set aid random(1, 1000)',
      '\\set tid random(1, 4)',
      'BEGIN;',
      'SAVEPOINT s;',
      'UPDATE accounts SET balance = balance + 1 WHERE id = :aid;',
      'RELEASE SAVEPOINT s;',
      'SAVEPOINT s;',
      'UPDATE tellers SET balance = balance + 1 WHERE id = :tid;',
      'ROLLBACK TO SAVEPOINT s;',
      'END;',
      '',
    ].join('\n'));
    const env = { ...process.env, PGPASSWORD: PASSWORD };
    for (const mode of ['extended', 'prepared']) {
      const { stdout } = await run(path.join(inject('legacy').binDir, 'pgbench'), ['-n', '-M', mode, '-f', file, '-c', '8', '-j', '2', '-t', '50', '-h', '127.0.0.1', '-p', String(sp.tp.port), '-U', USER, 'app'], { env });
      expect(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1], mode).toBe('400');
      expect(/number of failed transactions: (\d+)/.exec(stdout)?.[1], mode).toBe('0');
    }
  });
});
