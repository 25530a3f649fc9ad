// Apply-before-commit with an SQLite source: what the proxy acknowledges is in
// PostgreSQL already, every type arrives exactly, rollbacks leave nothing,
// cascades and REPLACE deletes are captured, and a failed apply trips reads
// and is repaired by the drainer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import Database from 'better-sqlite3';
import { sql } from '../harness/databases.ts';
import { runVerify } from '../../backfill/verify/run-verify.ts';
import { installSqliteCapture } from '../../proxy/capture/sqlite-capture.ts';
import { CaptureError } from '../../proxy/capture/pg-capture.ts';
import { startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

const SCHEMA = `
  CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email VARCHAR(80) NOT NULL UNIQUE,
    admin BOOLEAN NOT NULL DEFAULT 0,
    balance REAL NOT NULL DEFAULT 0,
    price NUMERIC(10, 2),
    born DATE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    big INTEGER,
    avatar BLOB,
    note TEXT
  );
  CREATE TABLE docs (
    owner INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    body TEXT,
    PRIMARY KEY (owner, slug)
  );
  CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT UNIQUE ON CONFLICT REPLACE, n INTEGER);
`;

let m: SqliteMirror;
const changesLeft = () => {
  const db = new Database(m.file, { readonly: true });
  try {
    return Number(db.prepare('SELECT count(*) FROM _cutover_changes').pluck().get());
  } finally {
    db.close();
  }
};
const target = async (text: string, params: unknown[] = []) => (await sql(m.targetUrl, text, params)).rows;
const equal = async () => {
  const r = await runVerify({ source: m.source, target: m.targetUrl, recheckDelayMs: 10 });
  return r.tables.map((t) => ({ table: t.table, equal: t.equal, missing: t.missing, extra: t.extra, different: t.different }));
};

beforeAll(async () => {
  m = await startSqliteMirror('sqlite_capture', SCHEMA);
});
afterAll(async () => {
  await m?.close();
});

describe('SQLite source: capture and apply before commit', () => {
  it('refuses to capture a table without a primary key, naming it', async () => {
    const db = new Database(m.file);
    try {
      db.exec('CREATE TABLE loose (a TEXT)');
      await expect(installSqliteCapture(db)).rejects.toThrow(CaptureError);
      await expect(installSqliteCapture(db)).rejects.toThrow(/without a primary key.*loose/);
      db.exec('DROP TABLE loose');
    } finally {
      db.close();
    }
  });

  it('a write acknowledged through the proxy is in PostgreSQL already (node-postgres, both protocols)', async () => {
    expect(m.tp.live.get().mirroring).toBe(true);
    const c = new pg.Client({ connectionString: m.url() });
    await c.connect();
    try {
      await c.query("INSERT INTO accounts (email, balance) VALUES ('a@x', 1.5)");
      expect(await target('SELECT email, balance FROM accounts')).toEqual([{ email: 'a@x', balance: 1.5 }]);
      const r = await c.query('INSERT INTO accounts (email, admin, note) VALUES ($1, $2, $3) RETURNING id', ['b@x', true, 'ünï 😀']);
      const id = r.rows[0].id;
      expect(await target('SELECT id::text, admin, note FROM accounts WHERE email = $1', ['b@x'])).toEqual([{ id, admin: true, note: 'ünï 😀' }]);
      await c.query('UPDATE accounts SET balance = balance + $1 WHERE id = $2', [2, id]);
      expect((await target('SELECT balance FROM accounts WHERE id = $1', [id]))[0].balance).toBe(2);
      await c.query('DELETE FROM accounts WHERE id = $1', [id]);
      expect(await target('SELECT 1 FROM accounts WHERE id = $1', [id])).toEqual([]);
      // an explicit transaction reaches PostgreSQL when it commits, not before
      await c.query('BEGIN');
      await c.query("INSERT INTO accounts (email) VALUES ('t1@x')");
      await c.query("INSERT INTO accounts (email) VALUES ('t2@x')");
      expect(await target("SELECT email FROM accounts WHERE email LIKE 't_@x'")).toEqual([]);
      await c.query('COMMIT');
      expect((await target("SELECT email FROM accounts WHERE email LIKE 't_@x' ORDER BY 1")).map((x) => x.email)).toEqual(['t1@x', 't2@x']);
      // a key that changes leaves no row behind under the old key
      await c.query("UPDATE accounts SET id = 1000 WHERE email = 't1@x'");
      expect((await target("SELECT id::int FROM accounts WHERE email = 't1@x'"))).toEqual([{ id: 1000 }]);
    } finally {
      await c.end();
    }
    expect(changesLeft()).toBe(0);
  });

  it('postgres.js writes, in and out of transactions, are mirrored before the acknowledgement', async () => {
    const pj = postgres(m.url(), { max: 2, prepare: true, onnotice: () => undefined });
    try {
      for (let i = 0; i < 5; i++) {
        await pj`INSERT INTO accounts (email, price) VALUES (${'pj' + i + '@x'}, ${'12.5'})`;
        expect(await target('SELECT price::text FROM accounts WHERE email = $1', ['pj' + i + '@x'])).toEqual([{ price: '12.50' }]);
      }
      await pj.begin(async (tx) => {
        await tx`UPDATE accounts SET note = 'tx' WHERE email LIKE 'pj%'`;
        await tx`DELETE FROM accounts WHERE email = 'pj4@x'`;
      });
      expect((await target("SELECT count(*)::int AS n FROM accounts WHERE note = 'tx'"))[0].n).toBe(4);
    } finally {
      await pj.end();
    }
  });

  it('every type arrives exactly: 64-bit integers, full-precision REAL, ±Infinity, empty and binary BLOBs, booleans, timestamps', async () => {
    const c = new pg.Client({ connectionString: m.url() });
    await c.connect();
    try {
      const ins = 'INSERT INTO accounts (email, admin, balance, price, born, created_at, big, avatar, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)';
      await c.query(ins, ['t-max@x', true, 0.30000000000000004, '19.99', '1990-05-17', '2024-02-29T23:59:59.123Z', '9223372036854775807', Buffer.alloc(0), 'tab\tnew\nline back\\slash "quote"']);
      await c.query(ins, ['t-min@x', false, 4.9406564584124654e-324, null, null, '2024-01-01 00:00:00', '-9007199254740993', Buffer.from([0, 1, 255]), null]);
      await c.query(ins, ['t-zero@x', false, '-0', '0', null, '2024-01-01 00:00:00', '-9223372036854775808', null, '']);
      await c.query("INSERT INTO accounts (email, balance) VALUES ('t-inf@x', 'Infinity'::float8), ('t-ninf@x', '-Infinity'::float8)");
    } finally {
      await c.end();
    }
    const rows = await target(`SELECT email, admin, float8send(balance)::text AS bits, price::text, born::text, created_at::text, big::text, encode(avatar, 'hex') AS avatar, note
                                 FROM accounts WHERE email LIKE 't-%' ORDER BY email`);
    const bits = (x: number) => {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(x);
      return '\\x' + b.toString('hex');
    };
    expect(rows).toEqual([
      { email: 't-inf@x', admin: false, bits: bits(Infinity), price: null, born: null, created_at: expect.any(String), big: null, avatar: null, note: null },
      { email: 't-max@x', admin: true, bits: bits(0.30000000000000004), price: '19.99', born: '1990-05-17', created_at: '2024-02-29 23:59:59.123', big: '9223372036854775807', avatar: '', note: 'tab\tnew\nline back\\slash "quote"' },
      { email: 't-min@x', admin: false, bits: bits(4.9406564584124654e-324), price: null, born: null, created_at: '2024-01-01 00:00:00', big: '-9007199254740993', avatar: '0001ff', note: null },
      { email: 't-ninf@x', admin: false, bits: bits(-Infinity), price: null, born: null, created_at: expect.any(String), big: null, avatar: null, note: null },
      // a REAL column stores -0.0 as 0 (SQLite's affinity): the mirror holds what the source holds
      { email: 't-zero@x', admin: false, bits: bits(0), price: '0.00', born: null, created_at: '2024-01-01 00:00:00', big: '-9223372036854775808', avatar: null, note: '' },
    ]);
    expect((await equal()).every((t) => t.equal)).toBe(true);
  });

  it('rollback and savepoint rollback leave no trace on either side', async () => {
    const c = new pg.Client({ connectionString: m.url() });
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query("INSERT INTO accounts (email) VALUES ('rolled@x')");
      await c.query('ROLLBACK');
      await c.query('BEGIN');
      await c.query("INSERT INTO accounts (email) VALUES ('kept@x')");
      await c.query('SAVEPOINT s1');
      await c.query("INSERT INTO accounts (email) VALUES ('undone@x')");
      await c.query("DELETE FROM accounts WHERE email = 'a@x'");
      await c.query('ROLLBACK TO SAVEPOINT s1');
      await c.query('COMMIT');
      // a failed statement inside the wrapped autocommit: nothing of it anywhere
      await expect(c.query("INSERT INTO accounts (email) VALUES ('kept@x')")).rejects.toMatchObject({ code: '23505' });
    } finally {
      await c.end();
    }
    expect((await target("SELECT email FROM accounts WHERE email IN ('rolled@x', 'kept@x', 'undone@x', 'a@x') ORDER BY 1")).map((x) => x.email)).toEqual(['a@x', 'kept@x']);
    expect(changesLeft()).toBe(0);
    expect((await equal()).every((t) => t.equal)).toBe(true);
  });

  it('captures ON DELETE CASCADE and deletes made by REPLACE conflict resolution', async () => {
    const c = new pg.Client({ connectionString: m.url() });
    await c.connect();
    try {
      const owner = (await c.query("INSERT INTO accounts (email) VALUES ('owner@x') RETURNING id")).rows[0].id;
      await c.query('INSERT INTO docs (owner, slug, body) VALUES ($1, $2, $3), ($1, $4, $3)', [owner, 'one', 'body', 'two']);
      expect((await target('SELECT count(*)::int AS n FROM docs WHERE owner = $1', [owner]))[0].n).toBe(2);
      await c.query('DELETE FROM accounts WHERE id = $1', [owner]);
      expect((await target('SELECT count(*)::int AS n FROM docs WHERE owner = $1', [owner]))[0].n).toBe(0);
      // tags.name is UNIQUE ON CONFLICT REPLACE: the second insert deletes row 1 in SQLite
      await c.query("INSERT INTO tags (id, name, n) VALUES (1, 'red', 1)");
      await c.query("INSERT INTO tags (id, name, n) VALUES (2, 'red', 2)");
      expect(await target('SELECT id::int, name FROM tags')).toEqual([{ id: 2, name: 'red' }]);
    } finally {
      await c.end();
    }
    expect((await equal()).every((t) => t.equal)).toBe(true);
  });

  it('routes reads to PostgreSQL when asked', async () => {
    m.tp.live.update({ readPercent: 100 });
    const before = m.tp.proxy.guard!.stats.reads;
    const c = new pg.Client({ connectionString: m.url() });
    await c.connect();
    try {
      const r = await c.query('SELECT count(*)::int AS n FROM accounts WHERE email = $1', ['a@x']);
      expect(r.rows[0].n).toBe(1);
      // PostgreSQL-only SQL proves where it ran
      const pgOnly = await c.query("SELECT string_agg(email, ',' ORDER BY email) AS s FROM accounts WHERE email = 'a@x'");
      expect(pgOnly.rows[0].s).toBe('a@x');
    } finally {
      await c.end();
      m.tp.live.update({ readPercent: 0 });
    }
    expect(m.tp.proxy.guard!.stats.reads).toBeGreaterThan(before);
  });

  it('a failed apply keeps the SQLite write, trips reads, and the drainer re-syncs the key', async () => {
    await sql(m.targetUrl, "ALTER TABLE accounts ADD CONSTRAINT no_blocked CHECK (email <> 'blocked@x')");
    const c = new pg.Client({ connectionString: m.url() });
    await c.connect();
    try {
      await c.query("INSERT INTO accounts (email) VALUES ('blocked@x')");
      expect(m.tp.live.get().tripped).toMatch(/mirror write failed/);
      expect((await c.query("SELECT count(*)::int AS n FROM accounts WHERE email = 'blocked@x'")).rows[0].n).toBe(1);
    } finally {
      await c.end();
    }
    expect(changesLeft()).toBe(1); // the dirty key, for the drainer
    await sql(m.targetUrl, 'ALTER TABLE accounts DROP CONSTRAINT no_blocked');
    for (let i = 0; i < 50 && changesLeft() > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(changesLeft()).toBe(0);
    expect(await target("SELECT email FROM accounts WHERE email = 'blocked@x'")).toEqual([{ email: 'blocked@x' }]);
    expect((await equal()).every((t) => t.equal)).toBe(true);
    m.tp.live.update({ tripped: null });
  });
});
