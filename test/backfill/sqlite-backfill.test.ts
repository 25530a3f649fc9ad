// SQLite → PostgreSQL through the real CLI: schema conversion keeps every value
// exactly, backfill copies and verify says equal; verify names a changed
// column, a missing and an extra row, and --repair makes the sides equal.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { cli } from '../harness/cli.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-sqlite-bf-'));
const file = path.join(dir, 'app.db');
const src = `sqlite://${file}`;
const state = ['--state', path.join(dir, 'state.db'), '--report-dir', path.join(dir, 'reports')];

const BIG = 9223372036854775807n;

function makeSource(): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`
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
      note TEXT,
      CHECK (balance > -1000)
    );
    CREATE TABLE docs (
      owner INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
      slug TEXT NOT NULL,
      body TEXT,
      PRIMARY KEY (owner, slug)
    );
    CREATE INDEX docs_slug ON docs (slug);`);
  const ins = db.prepare('INSERT INTO accounts (email, admin, balance, price, born, created_at, big, avatar, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  db.defaultSafeIntegers(true);
  db.transaction(() => {
    ins.run('exact@x', 1, 1234567.891, 19.99, '1990-05-17', '2024-02-29T23:59:59.123Z', BIG, Buffer.alloc(0), 'tab\tnew\nline back\\slash pipe| 😀 ünï');
    ins.run('inf@x', 0, Infinity, null, null, '2024-01-01 00:00:00', null, null, null);
    ins.run('third@x', 0, 0.1 + 0.2, null, null, '2024-01-01 00:00:00', -(2n ** 53n) - 1n, Buffer.from([0, 1, 2, 255]), null);
    for (let i = 0; i < 3000; i++) ins.run(`u${i}@x`, i % 2, i / 7, i, '2000-01-01', '2020-01-01 10:00:00', BigInt(i) * 1000003n, i % 10 ? null : Buffer.from([i % 256]), `n${i}`);
    const doc = db.prepare('INSERT INTO docs VALUES (?, ?, ?)');
    for (let i = 1; i <= 3000; i++) doc.run(BigInt(1 + (i % 50)), `slug-${i}`, 'x'.repeat(i % 200));
  })();
  db.close();
}

describe('SQLite source: schema, backfill, verify', () => {
  let pair: DbPair;
  beforeAll(async () => {
    makeSource();
    pair = await databasePair('sqlite_backfill');
  });

  it('cutover schema maps types exactly and lists what it cannot carry', async () => {
    const printed = await cli(['schema', '--source', src]);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('"balance" double precision');
    expect(printed.stdout).not.toMatch(/"balance" real/);
    const applied = await cli(['schema', '--apply', '--source', src, '--target', pair.targetUrl]);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    const cols = await sql(pair.targetUrl, `SELECT table_name, column_name, data_type, is_nullable, character_maximum_length, numeric_precision, numeric_scale, is_identity
                                             FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, ordinal_position`);
    const col = (t: string, c: string) => cols.rows.find((r) => r.table_name === t && r.column_name === c);
    expect(col('accounts', 'id')).toMatchObject({ data_type: 'bigint', is_identity: 'YES', is_nullable: 'NO' });
    expect(col('accounts', 'email')).toMatchObject({ data_type: 'character varying', character_maximum_length: 80, is_nullable: 'NO' });
    expect(col('accounts', 'admin')).toMatchObject({ data_type: 'boolean' });
    expect(col('accounts', 'balance')).toMatchObject({ data_type: 'double precision' });
    expect(col('accounts', 'price')).toMatchObject({ data_type: 'numeric', numeric_precision: 10, numeric_scale: 2 });
    expect(col('accounts', 'born')).toMatchObject({ data_type: 'date' });
    expect(col('accounts', 'created_at')).toMatchObject({ data_type: 'timestamp without time zone' });
    expect(col('accounts', 'avatar')).toMatchObject({ data_type: 'bytea' });
    const checks = await sql(pair.targetUrl, `SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE contype = 'c' AND conrelid = 'accounts'::regclass`);
    expect(checks.rows.map((r) => r.d).join()).toContain('balance');
    // a type SQLite allows and PostgreSQL has no exact twin for is listed, exit 2
    const odd = new Database(path.join(dir, 'odd.db'));
    odd.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, anything, money MONEYISH)');
    odd.close();
    const warn = await cli(['schema', '--source', `sqlite://${path.join(dir, 'odd.db')}`]);
    expect(warn.code).toBe(2);
    expect(warn.stdout).toMatch(/t\.anything: type \(none\)/);
    expect(warn.stdout).toMatch(/t\.money: type MONEYISH/);
  });

  it("cutover schema lists keys and indexes under SQLite's NOCASE and RTRIM, and creates such an index without the collation PostgreSQL lacks", async () => {
    const file = path.join(dir, 'nocase.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE u (email TEXT PRIMARY KEY COLLATE NOCASE, note TEXT, tag TEXT COLLATE RTRIM UNIQUE); CREATE INDEX u_note ON u (note COLLATE NOCASE)`);
    db.close();
    const target = await databasePair('sqlite_schema_nocase');
    const r = await cli(['schema', '--apply', '--source', `sqlite://${file}`, '--target', target.targetUrl]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toMatch(/u\.email: COLLATE NOCASE \(primary key\): not carried over: the new database compares these values byte for byte \('a' and 'A' are two values there\); if the application relies on it, add a unique index on lower\(email\)/);
    expect(r.stdout).toMatch(/u\.tag: COLLATE RTRIM \(unique index sqlite_autoindex_u_\d\)/);
    expect(r.stdout).toMatch(/u\.note: COLLATE NOCASE \(index u_note\).*add an index on lower\(note\)/);
    // the index is there (created after the copy), on the plain column
    const copied = await cli(['backfill', '--source', `sqlite://${file}`, '--target', target.targetUrl]);
    // 2: no capture installed, a snapshot copy
    expect(copied.code, copied.stderr).toBe(2);
    expect(copied.stdout).toContain('created index u_note on u');
    const ix = await sql(target.targetUrl, `SELECT indexdef FROM pg_indexes WHERE indexname = 'u_note'`);
    expect(ix.rows).toEqual([{ indexdef: 'CREATE INDEX u_note ON public.u USING btree (note)' }]);
  });

  it('backfill copies every value exactly; verify says equal', async () => {
    const r = await cli(['backfill', '--source', src, '--target', pair.targetUrl, '--batch-size', '500', ...state, '--json']);
    // no capture installed: a snapshot copy, said on stderr, exit 2 (success with a warning)
    expect(r.stderr).toMatch(/^warning: change capture is not installed on the source: this copy is a snapshot/);
    expect(r.code).toBe(2);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(summary).toMatchObject({ event: 'summary', rows: 6003 });
    expect(summary.postCopy.join()).toMatch(/unique constraint accounts_email_key.*foreign key docs_owner_fkey.*index docs_slug/);
    const row = (await sql(pair.targetUrl, `SELECT balance = 1234567.891::float8 AS exact, balance::text, big::text, avatar, note, admin, price::text, born::text, created_at::text
                                             FROM accounts WHERE email = 'exact@x'`)).rows[0];
    expect(row).toMatchObject({ exact: true, balance: '1234567.891', big: BIG.toString(), note: 'tab\tnew\nline back\\slash pipe| 😀 ünï', admin: true, price: '19.99', born: '1990-05-17', created_at: '2024-02-29 23:59:59.123' });
    expect(Buffer.compare(row.avatar, Buffer.alloc(0))).toBe(0);
    const third = (await sql(pair.targetUrl, `SELECT balance = (0.1::float8 + 0.2::float8) AS exact, big::text, avatar FROM accounts WHERE email = 'third@x'`)).rows[0];
    expect(third).toMatchObject({ exact: true, big: (-(2n ** 53n) - 1n).toString() });
    expect([...third.avatar]).toEqual([0, 1, 2, 255]);
    expect((await sql(pair.targetUrl, `SELECT balance = 'Infinity'::float8 AS inf FROM accounts WHERE email = 'inf@x'`)).rows[0].inf).toBe(true);
    // the target hands out ids past the source's
    const next = await sql(pair.targetUrl, `INSERT INTO accounts (email) VALUES ('new@x') RETURNING id`);
    expect(Number(next.rows[0].id)).toBeGreaterThan(3003);
    await sql(pair.targetUrl, `DELETE FROM accounts WHERE email = 'new@x'`);

    const v = await cli(['verify', '--source', src, '--target', pair.targetUrl, ...state]);
    expect(v.stdout).toContain('all 2 table(s) equal (6003 rows)');
    expect(v.code).toBe(0);
  });

  it('verify names a changed column, a missing and an extra row; --repair makes them equal', async () => {
    await sql(pair.targetUrl, `SET session_replication_role = replica;
      UPDATE accounts SET note = 'tampered', balance = balance + 1e-9 WHERE email = 'u10@x';
      DELETE FROM docs WHERE owner = 7 AND slug = 'slug-6';
      INSERT INTO docs VALUES (999, 'ghost', 'boo');`);
    const v = await cli(['verify', '--source', src, '--target', pair.targetUrl, ...state]);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/accounts .*DIFFERENT: 0 missing, 0 extra, 1 different/);
    expect(v.stdout).toMatch(/different id=\d+: balance, note/);
    expect(v.stdout).toMatch(/missing\s+owner=7, slug=slug-6/);
    expect(v.stdout).toMatch(/extra\s+owner=999, slug=ghost/);
    const reportFile = /report: (.*)/.exec(v.stdout)![1]!;
    const report = JSON.parse(readFileSync(reportFile, 'utf8'));
    expect(report.equal).toBe(false);
    expect(report.target).not.toContain('postgres:postgres@'); // no password in the report
    const fixed = await cli(['verify', '--repair', '--source', src, '--target', pair.targetUrl, ...state]);
    expect(fixed.stdout).toMatch(/docs .*equal after repairing 2 row\(s\)/);
    expect(fixed.code).toBe(0);
    expect((await sql(pair.targetUrl, `SELECT note FROM accounts WHERE email = 'u10@x'`)).rows[0].note).toBe('n10');
  });
});

it('copies a UTF-16 SQLite file exactly (its text reaches COPY as UTF-8)', async () => {
  const file16 = path.join(dir, 'utf16.db');
  const db = new Database(file16);
  db.pragma('encoding = "UTF-16le"');
  db.exec(`CREATE TABLE notes (slug TEXT PRIMARY KEY, body TEXT NOT NULL, n INTEGER)`);
  const ins = db.prepare('INSERT INTO notes VALUES (?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 2000; i++) ins.run(`slug-${(i * 7) % 2000}-ü`, `körper ${i} 😀 "quoted", comma`, i);
  })();
  expect(db.pragma('encoding', { simple: true })).toBe('UTF-16le');
  db.close();
  const p = await databasePair('sqlite_backfill_utf16');
  const args = ['--source', `sqlite://${file16}`, '--target', p.targetUrl, '--state', path.join(dir, 'state16.db'), '--report-dir', path.join(dir, 'reports')];
  expect((await cli(['schema', '--apply', ...args])).code).toBe(0);
  const r = await cli(['backfill', ...args, '--batch-size', '300', '--json']);
  expect(r.code, r.stderr).toBe(2);
  expect((await sql(p.targetUrl, `SELECT body FROM notes WHERE slug = 'slug-14-ü'`)).rows[0].body).toBe('körper 2 😀 "quoted", comma');
  const v = await cli(['verify', ...args]);
  expect(v.stdout).toContain('all 1 table(s) equal (2000 rows)');
});
