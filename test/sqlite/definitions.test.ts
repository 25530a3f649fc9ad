// Definitions made through the proxy on an SQLite file: a CHECK, a partial
// index and a view keep their string constants as written (SQLite stores the
// definition's text and allows no parameters in one), and a DROP of something
// missing is worded as PostgreSQL words it.
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from './mirror-harness.ts';
import { startSqliteProxy, type SqliteProxy } from './sqlite-harness.ts';

let sp: SqliteProxy;
let c: pg.Client;

beforeAll(async () => {
  sp = await startSqliteProxy();
  c = await connectClient(sp.url());
});
afterAll(async () => {
  await c?.end();
  await sp?.close();
});

const failure = (text: string) => c.query(text).then(() => 'ok' as const, (e: { code: string; message: string }) => ({ code: e.code, message: e.message }));

describe('SQLite source: definitions with string constants', () => {
  it('a CHECK, a DEFAULT, a partial index and a view that compare with a string constant are created and work', async () => {
    await c.query("CREATE TABLE defs (id int PRIMARY KEY, a text CHECK (a <> 'x'), b text DEFAULT 'q')");
    await c.query("CREATE INDEX defs_a ON defs (a) WHERE a <> 'y'");
    await c.query("CREATE VIEW defs_v AS SELECT id, a, b FROM defs WHERE a <> 'z'");
    expect(await failure("INSERT INTO defs (id, a) VALUES (1, 'x')")).toEqual({ code: '23514', message: 'new row for relation "defs" violates check constraint "defs_a_check"' });
    await c.query("INSERT INTO defs (id, a) VALUES (2, 'z'), (3, 'w')");
    expect((await c.query('SELECT id, a, b FROM defs_v ORDER BY id')).rows).toEqual([{ id: '3', a: 'w', b: 'q' }]);
  });

  it('DROP of a missing table, index or view: 42P01 / 42704 with PostgreSQL\'s words', async () => {
    expect(await failure('DROP TABLE nosuch')).toEqual({ code: '42P01', message: 'table "nosuch" does not exist' });
    expect(await failure('DROP INDEX nosuch')).toEqual({ code: '42704', message: 'index "nosuch" does not exist' });
    expect(await failure('DROP VIEW nosuch')).toEqual({ code: '42P01', message: 'view "nosuch" does not exist' });
    expect(await failure('SELECT * FROM nosuch')).toEqual({ code: '42P01', message: 'relation "nosuch" does not exist' });
  });
});
