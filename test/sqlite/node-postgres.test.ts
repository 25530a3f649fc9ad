// node-postgres against the proxy serving an SQLite file: both protocols, types, transactions, SQLSTATEs, locking.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import Database from 'better-sqlite3';
import { startSqliteProxy, type SqliteProxy } from './sqlite-harness.ts';

let sp: SqliteProxy;

async function client(options: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: sp.url(), ...options });
  await c.connect();
  return c;
}

beforeAll(async () => {
  sp = await startSqliteProxy();
  const c = await client();
  await c.query(`CREATE TABLE accounts (
    id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, balance double precision NOT NULL DEFAULT 0 CHECK (balance >= 0),
    big bigint, active boolean NOT NULL DEFAULT true, born date, seen timestamptz DEFAULT now(), body bytea, price numeric(12, 3))`);
  await c.query('CREATE TABLE docs (id serial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE, title text)');
  await c.end();
});
afterAll(async () => {
  await sp?.close();
});

describe('node-postgres → proxy → SQLite', () => {
  it('does CRUD with the simple and the extended protocol, with PostgreSQL command tags', async () => {
    const c = await client();
    try {
      const ins = await c.query("INSERT INTO accounts (email, balance) VALUES ('a@x', 10), ('b@x', 20)");
      expect(ins.command).toBe('INSERT');
      expect(ins.rowCount).toBe(2);
      const ext = await c.query('INSERT INTO accounts (email, balance) VALUES ($1, $2) RETURNING id, email', ['c@x', 30]);
      expect(ext.rows).toEqual([{ id: '3', email: 'c@x' }]);
      const upd = await c.query('UPDATE accounts SET balance = balance + $1 WHERE email <> $2', [1.5, 'c@x']);
      expect(upd.command).toBe('UPDATE');
      expect(upd.rowCount).toBe(2);
      const sel = await c.query('SELECT email, balance FROM accounts WHERE balance > $1 ORDER BY id', [12]);
      expect(sel.rows).toEqual([{ email: 'b@x', balance: 21.5 }, { email: 'c@x', balance: 30 }]);
      expect(sel.command).toBe('SELECT');
      const del = await c.query("DELETE FROM accounts WHERE email = 'c@x'");
      expect(del.command).toBe('DELETE');
      expect(del.rowCount).toBe(1);
      const n = await c.query('SELECT count(*)::int AS n, count(*) AS big FROM accounts');
      expect(n.rows[0]).toEqual({ n: 2, big: '2' });
      expect(n.fields.map((f) => f.dataTypeID)).toEqual([23, 20]);
      // an upsert keeps PostgreSQL's meaning
      await c.query("INSERT INTO accounts (email, balance) VALUES ('a@x', 99) ON CONFLICT (email) DO UPDATE SET balance = excluded.balance");
      await c.query("INSERT INTO accounts (email, balance) VALUES ('b@x', 99) ON CONFLICT DO NOTHING");
      const after = await c.query('SELECT email, balance FROM accounts ORDER BY email');
      expect(after.rows).toEqual([{ email: 'a@x', balance: 99 }, { email: 'b@x', balance: 21.5 }]);
      // a multi-statement simple query
      const multi = (await c.query("SELECT 1 AS one; SELECT 'two' AS two")) as unknown as pg.QueryResult[];
      expect(multi.map((r) => r.rows[0])).toEqual([{ one: 1 }, { two: 'two' }]);
    } finally {
      await c.end();
    }
  });

  it('round-trips every type exactly, in text and binary parameter formats', async () => {
    const c = await client();
    try {
      const big = '9007199254740993'; // 2^53 + 1: not a JS number
      const blob = Buffer.from([0, 1, 2, 254, 255, 92, 120]);
      const r = await c.query(
        `INSERT INTO accounts (email, balance, big, active, born, body, price) VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING email, balance, big, active, born, body, price`,
        ['ünïcødé 🎉 @x', 0.1 + 0.2, big, false, '2024-02-29', blob, '1234567.891'],
      );
      const row = r.rows[0];
      expect(row.email).toBe('ünïcødé 🎉 @x');
      expect(row.balance).toBe(0.30000000000000004);
      expect(row.big).toBe(big);
      expect(row.active).toBe(false);
      expect(row.born).toEqual(new Date('2024-02-29T00:00:00Z'));
      expect(Buffer.compare(row.body, blob)).toBe(0);
      expect(row.price).toBe('1234567.891');
      const empty = await c.query("INSERT INTO accounts (email, body, balance) VALUES ('empty@x', $1, 1234567.891) RETURNING body, balance, big", [Buffer.alloc(0)]);
      expect(empty.rows[0].body).toEqual(Buffer.alloc(0));
      expect(empty.rows[0].balance).toBe(1234567.891);
      expect(empty.rows[0].big).toBeNull();
      // read back by the 64-bit key, through the simple protocol too
      const simple = await c.query(`SELECT big, balance, active FROM accounts WHERE big = ${big}`);
      expect(simple.rows).toEqual([{ big, balance: 0.30000000000000004, active: false }]);
      const byBool = await c.query('SELECT count(*)::int AS n FROM accounts WHERE active = $1', [false]);
      expect(byBool.rows[0].n).toBe(1);
      // SQLite's own view of the file: exact integer, REAL, BLOB
      const db = new Database(sp.file, { readonly: true });
      db.defaultSafeIntegers(true);
      const raw = db.prepare("SELECT big, balance, body, active FROM accounts WHERE email = 'ünïcødé 🎉 @x'").get() as Record<string, unknown>;
      db.close();
      expect(raw.big).toBe(9007199254740993n);
      expect(raw.balance).toBe(0.30000000000000004);
      expect(Buffer.compare(raw.body as Buffer, blob)).toBe(0);
      expect(raw.active).toBe(0n);
      // timestamps are PostgreSQL text forms
      const ts = await c.query("SELECT seen, now() AS n, '2024-01-02 03:04:05.678'::timestamptz AS t, '-Infinity'::float8 AS ninf, 'Infinity'::float8 AS inf FROM accounts LIMIT 1");
      expect(ts.rows[0].seen).toBeInstanceOf(Date);
      expect(Math.abs(ts.rows[0].n.getTime() - Date.now())).toBeLessThan(60_000);
      expect(ts.rows[0].t).toEqual(new Date('2024-01-02T03:04:05.678Z'));
      expect(ts.rows[0].ninf).toBe(-Infinity);
      expect(ts.rows[0].inf).toBe(Infinity);
    } finally {
      await c.end();
    }
  });

  it('prints numeric(p,s) with its scale, takes DEFAULT among VALUES, and an overflowing sum is 22003', async () => {
    const c = await client();
    try {
      await c.query('CREATE TABLE money (id bigserial PRIMARY KEY, amount numeric(10, 2), note text DEFAULT \'none\', n bigint)');
      const ins = await c.query("INSERT INTO money (amount, note, n) VALUES (12.5, DEFAULT, 9223372036854775807), ('7', DEFAULT, 1) RETURNING id, amount, note");
      expect(ins.rows).toEqual([{ id: '1', amount: '12.50', note: 'none' }, { id: '2', amount: '7.00', note: 'none' }]);
      // RowDescription carries numeric(10,2)'s typmod, as PostgreSQL's does
      expect(ins.fields.find((f) => f.name === 'amount')).toMatchObject({ dataTypeID: 1700, dataTypeModifier: ((10 << 16) | 2) + 4 });
      const ext = await c.query('INSERT INTO money (id, amount, note) VALUES (DEFAULT, $1, DEFAULT) RETURNING amount, note', ['0.1']);
      expect(ext.rows).toEqual([{ amount: '0.10', note: 'none' }]);
      expect((await c.query('INSERT INTO money (amount, note) VALUES (DEFAULT, DEFAULT) RETURNING amount, note')).rows).toEqual([{ amount: null, note: 'none' }]);
      await expect(c.query('INSERT INTO money (amount, note) VALUES (1, DEFAULT), (DEFAULT, 2)')).rejects.toMatchObject({ code: '0A000' });
      await expect(c.query('SELECT sum(n) FROM money')).rejects.toMatchObject({ code: '22003' });
      // a serial hands out no id twice: not the largest deleted one, not after every row went
      await c.query('DELETE FROM money WHERE id = (SELECT max(id) FROM money)');
      expect((await c.query('INSERT INTO money (amount) VALUES (1) RETURNING id')).rows).toEqual([{ id: '5' }]);
      await c.query('TRUNCATE money');
      expect((await c.query('INSERT INTO money (amount) VALUES (1) RETURNING id')).rows).toEqual([{ id: '6' }]);
      expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    } finally {
      await c.end();
    }
  });

  it('string constants written into or compared with a column are read as the column\'s type, as PostgreSQL reads them', async () => {
    const c = await client();
    try {
      await c.query('CREATE TABLE lit (id bigint PRIMARY KEY, b boolean, d date, u uuid, n int)');
      await c.query(`INSERT INTO lit (id, b, d, u, n) VALUES (1, 'yes', '2024-1-5', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '42'), (2, 'f', '2024-01-06', NULL, '7')`);
      await c.query(`UPDATE lit SET b = 'on' WHERE id = '2'`);
      // SQLite kept 'yes' as text before: WHERE b found nothing, NOT b was true
      expect((await c.query('SELECT id FROM lit WHERE b ORDER BY id')).rows).toEqual([{ id: '1' }, { id: '2' }]);
      expect((await c.query(`SELECT count(*)::int AS n FROM lit WHERE b = 't'`)).rows).toEqual([{ n: 2 }]);
      expect((await c.query(`SELECT id, d, u, n FROM lit WHERE u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'`)).rows).toEqual([
        { id: '1', d: new Date('2024-01-05T00:00:00Z'), u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', n: '42' }, // int as int8: SQLite's integers are 64-bit
      ]);
      await expect(c.query(`INSERT INTO lit (id, n) VALUES (3, 'abc')`)).rejects.toMatchObject({ code: '22P02' });
      await expect(c.query(`INSERT INTO lit (id, d) VALUES (3, '2024-02-30')`)).rejects.toMatchObject({ code: '22008' });
      await expect(c.query(`INSERT INTO lit (id, b) VALUES (3, 'maybe')`)).rejects.toMatchObject({ code: '22P02' });
      // what the file holds: PostgreSQL's values, not the text as written
      const db = new Database(sp.file, { readonly: true });
      const raw = db.prepare('SELECT b, d, u, typeof(n) AS nt FROM lit WHERE id = 1').get();
      db.close();
      expect(raw).toEqual({ b: 1, d: '2024-01-05', u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', nt: 'integer' });
    } finally {
      await c.end();
    }
  });

  it('runs transactions and savepoints, and named prepared statements', async () => {
    const c = await client();
    try {
      await c.query('BEGIN');
      await c.query("INSERT INTO accounts (email) VALUES ('t1@x')");
      await c.query('SAVEPOINT s1');
      await c.query("INSERT INTO accounts (email) VALUES ('t2@x')");
      await c.query('ROLLBACK TO SAVEPOINT s1');
      await c.query("INSERT INTO accounts (email) VALUES ('t3@x')");
      await c.query('RELEASE SAVEPOINT s1');
      await c.query('COMMIT');
      const got = await c.query("SELECT email FROM accounts WHERE email LIKE 't_@x' ORDER BY email");
      expect(got.rows.map((r) => r.email)).toEqual(['t1@x', 't3@x']);

      await c.query('BEGIN');
      await c.query("INSERT INTO accounts (email) VALUES ('gone@x')");
      await c.query('ROLLBACK');
      expect((await c.query("SELECT count(*)::int AS n FROM accounts WHERE email = 'gone@x'")).rows[0].n).toBe(0);

      // an error fails the transaction; COMMIT then rolls back
      await c.query('BEGIN');
      await c.query("INSERT INTO accounts (email) VALUES ('half@x')");
      await expect(c.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
      await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
      const commit = await c.query('COMMIT');
      expect(commit.command).toBe('ROLLBACK');
      expect((await c.query("SELECT count(*)::int AS n FROM accounts WHERE email = 'half@x'")).rows[0].n).toBe(0);

      // a failed statement inside a multi-statement query leaves nothing behind
      await expect(c.query("INSERT INTO accounts (email) VALUES ('multi@x'); INSERT INTO accounts (email) VALUES (NULL)")).rejects.toMatchObject({ code: '23502' });
      expect((await c.query("SELECT count(*)::int AS n FROM accounts WHERE email = 'multi@x'")).rows[0].n).toBe(0);

      const q = { name: 'by-email', text: 'SELECT id, email FROM accounts WHERE email = $1' };
      const a = await c.query({ ...q, values: ['t1@x'] });
      const b = await c.query({ ...q, values: ['t3@x'] });
      expect([a.rows[0].email, b.rows[0].email]).toEqual(['t1@x', 't3@x']);
    } finally {
      await c.end();
    }
  });

  it('maps SQLite errors to PostgreSQL SQLSTATEs, and the session goes on', async () => {
    const c = await client();
    try {
      await c.query("INSERT INTO accounts (email) VALUES ('dup@x')");
      const cases: [string, unknown[], string][] = [
        ["INSERT INTO accounts (email) VALUES ('dup@x')", [], '23505'],
        ['INSERT INTO accounts (id, email) VALUES (1, $1)', ['pk@x'], '23505'],
        ['INSERT INTO accounts (email) VALUES (NULL)', [], '23502'],
        ['INSERT INTO docs (account_id, title) VALUES ($1, $2)', [424242, 'orphan'], '23503'],
        ["INSERT INTO accounts (email, balance) VALUES ('neg@x', -1)", [], '23514'],
        ['SELECT * FROM missing_table', [], '42P01'],
        ['SELECT missing_column FROM accounts', [], '42703'],
        ['SELEKT 1', [], '42601'],
        ['SELECT DISTINCT ON (email) email FROM accounts', [], '0A000'],
        ['SELECT * FROM accounts WHERE id = ANY($1)', [[1, 2]], '0A000'],
      ];
      for (const [text, values, code] of cases) {
        await expect(c.query(text, values), text).rejects.toMatchObject({ code });
      }
      const refused = await c.query("SELECT nextval('s')").catch((e: pg.DatabaseError) => e);
      expect(refused).toMatchObject({ code: '0A000' });
      expect((refused as Error).message).toContain('nextval');
      expect((await c.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
      // ON DELETE CASCADE is SQLite's own foreign key action
      const acc = await c.query("INSERT INTO accounts (email) VALUES ('owner@x') RETURNING id");
      await c.query('INSERT INTO docs (account_id, title) VALUES ($1, $2)', [acc.rows[0].id, 'mine']);
      await c.query('DELETE FROM accounts WHERE id = $1', [acc.rows[0].id]);
      expect((await c.query('SELECT count(*)::int AS n FROM docs')).rows[0].n).toBe(0);
    } finally {
      await c.end();
    }
  });

  it('serializes writers: a second writer waits, then times out with 55P03', async () => {
    const a = await client();
    const b = await client();
    try {
      await b.query("SET lock_timeout = '300ms'");
      await a.query('BEGIN');
      await a.query("INSERT INTO accounts (email) VALUES ('lock-a@x')");
      const started = Date.now();
      await expect(b.query("INSERT INTO accounts (email) VALUES ('lock-b@x')")).rejects.toMatchObject({ code: '55P03' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      // readers are not blocked by the writer, and do not see its uncommitted row
      expect((await b.query("SELECT count(*)::int AS n FROM accounts WHERE email = 'lock-a@x'")).rows[0].n).toBe(0);
      // a waiting writer gets the lock when the holder commits
      await b.query("SET lock_timeout = '5s'");
      const waiting = b.query("INSERT INTO accounts (email) VALUES ('lock-b@x') RETURNING email");
      await new Promise((r) => setTimeout(r, 100));
      await a.query('COMMIT');
      expect((await waiting).rows[0].email).toBe('lock-b@x');
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('reports 40001 when a transaction that read a snapshot writes after another session committed', async () => {
    const a = await client();
    const b = await client();
    try {
      await a.query('BEGIN');
      await a.query('SELECT count(*) FROM accounts');
      await b.query("INSERT INTO accounts (email) VALUES ('snap-b@x')");
      await expect(a.query("INSERT INTO accounts (email) VALUES ('snap-a@x')")).rejects.toMatchObject({ code: '40001' });
      await a.query('ROLLBACK');
      // SELECT … FOR UPDATE takes the write lock first, so the same pattern then succeeds
      await a.query('BEGIN');
      await a.query('SELECT count(*) FROM accounts FOR UPDATE');
      await a.query("INSERT INTO accounts (email) VALUES ('snap-a@x')");
      await a.query('COMMIT');
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('answers the settings and functions drivers ask for on connect', async () => {
    const c = await client({ application_name: 'nodetest' } as Partial<pg.ClientConfig>);
    try {
      expect((await c.query('SHOW server_version')).rows[0].server_version).toContain('Cutover SQLite');
      expect((await c.query('SHOW application_name')).rows[0].application_name).toBe('nodetest');
      await c.query("SET search_path TO public");
      expect((await c.query("SELECT current_setting('search_path') AS p")).rows[0].p).toBe('public');
      const info = await c.query('SELECT version() AS v, current_database() AS d, current_user AS u, pg_backend_pid() AS pid');
      expect(info.rows[0].v).toMatch(/^PostgreSQL 15\.0/);
      expect(info.rows[0].d).toBe('app');
      expect(info.rows[0].u).toBe('app');
      expect(info.rows[0].pid).toBeGreaterThan(0);
      await expect(c.query("SET client_encoding = 'LATIN1'")).rejects.toMatchObject({ code: '0A000' });
    } finally {
      await c.end();
    }
  });
});
