// A constraint violation on the SQLite source names what PostgreSQL names: the
// constraint (message and the `constraint` field), its table, the column of a
// NOT NULL. Compared with the new database, whose constraints the schema copy
// created from the same file: the same failing statement, run there directly,
// must give the same fields, so an application that tells one unique
// violation from another by name sees one name before and after the promote.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { connectClient as client, startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

const SCHEMA = `
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  org TEXT,
  handle TEXT,
  code TEXT,
  balance INTEGER CHECK (balance >= 0),
  CONSTRAINT handle_short CHECK (length(handle) < 10),
  UNIQUE (org, handle)
);
CREATE UNIQUE INDEX accounts_code_ix ON accounts (code);
CREATE TABLE docs (id INTEGER PRIMARY KEY, account_id INTEGER REFERENCES accounts (id), title TEXT);
CREATE TABLE tags (a TEXT NOT NULL, b TEXT NOT NULL, PRIMARY KEY (a, b));
CREATE TABLE ledger (id INTEGER PRIMARY KEY AUTOINCREMENT, amount INTEGER CHECK (amount <> 0));
`;
const SEED = [
  "INSERT INTO accounts (id, email, org, handle, code, balance) VALUES (1, 'a@x', 'o', 'h', 'c', 5)",
  "INSERT INTO accounts (id, email, code) VALUES (2, 'b@x', 'd')",
  "INSERT INTO docs (id, account_id, title) VALUES (1, 1, 'first')",
  "INSERT INTO tags (a, b) VALUES ('x', 'y')",
];

let m: SqliteMirror;
let proxy: pg.Client;
let target: pg.Client;

type Fields = { code?: string; message: string; schema?: string; table?: string; column?: string; constraint?: string };
async function failure(c: pg.Client, text: string, values?: unknown[]): Promise<Fields | 'ok'> {
  try {
    await c.query(values ? { text, values } : text);
    return 'ok';
  } catch (e) {
    const { code, message, schema, table, column, constraint } = e as Fields;
    return { code, message, schema, table, column, constraint };
  }
}

beforeAll(async () => {
  m = await startSqliteMirror('sqlite_constraint_errors', SCHEMA);
  proxy = await client(m.url());
  for (const s of SEED) await proxy.query(s);
  target = await client(m.targetUrl);
});
afterAll(async () => {
  await proxy?.end();
  await target?.end();
  await m?.close();
});

// each refused on both sides: nothing is written, so every case meets the seeded rows (ids given: the
// new database's identity has not moved past the mirrored rows, which only the promote sets)
const CASES: [string, string, unknown[]?][] = [
  ['rowid primary key', "INSERT INTO accounts (id, email) VALUES (1, 'new@x')"],
  ['rowid primary key, extended protocol', 'INSERT INTO accounts (id, email) VALUES ($1, $2)', [1, 'new@x']],
  ['column UNIQUE', "INSERT INTO accounts (id, email) VALUES (50, 'a@x')"],
  ['table UNIQUE over two columns', "INSERT INTO accounts (id, email, org, handle) VALUES (50, 'q@x', 'o', 'h')"],
  ['named unique index', "INSERT INTO accounts (id, email, code) VALUES (50, 'q@x', 'c')"],
  ['UPDATE into a unique value', "UPDATE accounts SET code = 'c' WHERE id = 2"],
  ['composite primary key', "INSERT INTO tags (a, b) VALUES ('x', 'y')"],
  ['NOT NULL', 'INSERT INTO accounts (id, email) VALUES (50, NULL)'],
  ['NOT NULL by UPDATE', 'UPDATE accounts SET email = NULL WHERE id = 1'],
  ['unnamed column CHECK', "UPDATE accounts SET balance = -1 WHERE id = 1"],
  ['named table CHECK', "INSERT INTO accounts (id, email, handle) VALUES (50, 'q@x', '0123456789abc')"],
  ['foreign key', "INSERT INTO docs (id, account_id, title) VALUES (50, 99, 'orphan')"],
  // SQLite-only words (AUTOINCREMENT) in the table's definition: its CHECK is still found by name
  ['CHECK of a table with AUTOINCREMENT', 'INSERT INTO ledger (id, amount) VALUES (50, 0)'],
];

describe('SQLite source: constraint violations', () => {
  it.each(CASES)('%s: the same SQLSTATE, message, table, column and constraint as the new database', async (_label, text, values) => {
    const want = await failure(target, text, values);
    const got = await failure(proxy, text, values);
    expect(got).toEqual(want);
  });

  it('every case is refused (the comparison is between errors), and names a constraint where PostgreSQL does', async () => {
    for (const [, text, values] of CASES) {
      const got = await failure(proxy, text, values);
      expect(got).not.toBe('ok');
      const e = got as Fields;
      expect(e.table).toBeTruthy();
      if (e.code !== '23502') expect(e.constraint).toBeTruthy();
      else expect(e.column).toBeTruthy();
    }
  });

  it('a table created through the proxy names its primary key as PostgreSQL does (node-postgres reads err.constraint)', async () => {
    await proxy.query('CREATE TEMP TABLE constraint_err_test (a int PRIMARY KEY)');
    await proxy.query('INSERT INTO constraint_err_test (a) VALUES (1)');
    expect(await failure(proxy, 'INSERT INTO constraint_err_test (a) VALUES (1)')).toEqual({
      code: '23505',
      message: 'duplicate key value violates unique constraint "constraint_err_test_pkey"',
      // a temporary table is in no schema the new database has: PostgreSQL's pg_temp_N is not named
      schema: undefined,
      table: 'constraint_err_test',
      column: undefined,
      constraint: 'constraint_err_test_pkey',
    });
    // the session goes on
    expect((await proxy.query('SELECT count(*) AS n FROM constraint_err_test')).rows).toEqual([{ n: '1' }]);
  });
});
