// cutover check against a crafted SQLite file holding each kind of data the
// target refuses, and a target that already has a conflicting row and a
// stricter unique index. Each finding names table, column and keys.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import type { Finding } from '../../backfill/check/findings.ts';
import { hashFormat } from '../../backfill/check/password-hashes.ts';
import { connectionFinding } from '../../backfill/check/run-check.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-check-'));
const file = path.join(dir, 'bad.db');
const BCRYPT = '$2b$12$' + 'a'.repeat(53);

describe('cutover check', () => {
  let pair: DbPair;
  let findings: Finding[];
  let code: number;
  let human: string;
  beforeAll(async () => {
    const db = new Database(file);
    db.pragma('foreign_keys = OFF'); // as most SQLite applications run
    db.exec(`
      CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL, password_hash TEXT, age INTEGER, born DATE, created TIMESTAMP, nick VARCHAR(5), flag BOOLEAN);
      CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT);
      CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id));
      CREATE TABLE nokey (a TEXT, b TEXT);`);
    const u = db.prepare('INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    u.run(1, 'ann@x', BCRYPT, 30, '1990-01-01', '2024-01-01T10:00:00Z', 'ann', 1);
    u.run(2, 'abc@x', BCRYPT, 'abc', null, null, null, null);
    u.run(3, 'Bob@x', BCRYPT, 40, null, null, null, null);
    u.run(4, 'bob@x', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA', 41, null, null, null, null);
    u.run(5, 'cy@x', 'plaintext', 50, null, null, null, null);
    u.run(7, 'dee@x', BCRYPT, 20, 'yesterday', null, null, null);
    u.run(8, 'eve@x', BCRYPT, 20, null, null, 'toolong', null);
    u.run(9, 'fay@x', BCRYPT, 20, null, 1700000000, null, 7);
    db.prepare('INSERT INTO notes VALUES (?, ?)').run(null, 'a note under a NULL key');
    // text PostgreSQL refuses: a NUL character, bytes that are not UTF-8; beside valid non-ASCII text
    db.exec(`INSERT INTO notes VALUES ('n1', 'a' || char(0) || 'b'), ('n2', CAST(X'C328' AS TEXT)), ('n3', 'ünïcode 😀')`);
    db.prepare('INSERT INTO posts VALUES (?, ?)').run(1, 999);
    db.prepare('INSERT INTO nokey VALUES (?, ?)').run('x', 'y');
    db.close();
    pair = await databasePair('check_sqlite');
    const src = `sqlite://${file}`;
    expect((await cli(['schema', '--apply', '--source', src, '--target', pair.targetUrl])).code).toBeLessThan(2 + 1);
    // a narrower integer on the target is worth a warning; timestamp = timestamp without time zone is not
    await sql(pair.targetUrl, `ALTER TABLE users ALTER COLUMN age TYPE integer`);
    await sql(pair.targetUrl, `CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
                              INSERT INTO users (id, email, password_hash, age) VALUES (1, 'someone.else@x', 'x', 1)`);
    const r = await cli(['check', '--source', src, '--target', pair.targetUrl, '--backup-dir', path.join(dir, 'backups'), '--report-dir', dir, '--json']);
    code = r.code;
    findings = JSON.parse(r.stdout).findings;
    human = (await cli(['check', '--source', src, '--target', pair.targetUrl, '--backup-dir', path.join(dir, 'backups'), '--report-dir', dir])).stdout;
  });

  const find = (check: string, table: string, column?: string) =>
    findings.find((f) => f.check === check && f.table === table && (column === undefined || f.column === column));

  it('exits 1 and names every kind of bad data', () => {
    expect(code).toBe(1);
    expect(find('type', 'users', 'age')).toMatchObject({ severity: 'error', rows: 1, keys: ['2'] });
    expect(find('type', 'users', 'born')).toMatchObject({ severity: 'error', keys: ['7'] });
    expect(find('type', 'users', 'created')).toMatchObject({ severity: 'error', keys: ['9'] });
    expect(find('type', 'users', 'nick')).toMatchObject({ severity: 'error', keys: ['8'] });
    expect(find('type', 'users', 'flag')).toMatchObject({ severity: 'error', keys: ['9'] });
    expect(find('not-null', 'notes', 'id')).toMatchObject({ severity: 'error', rows: 1 });
    expect(find('schema', 'users', 'age')).toMatchObject({ severity: 'warning', message: 'target type integer differs from bigint; values are checked against integer' });
    expect(findings.filter((f) => f.check === 'schema' && f.column !== 'age')).toEqual([]);
    expect(find('type', 'notes', 'body')).toMatchObject({ severity: 'error', rows: 2, keys: ['n1', 'n2'] });
    expect(find('foreign-key', 'posts', 'user_id')).toMatchObject({ severity: 'error', rows: 1, keys: ['1'] });
    expect(find('primary-key', 'nokey')).toMatchObject({ severity: 'error' });
    expect(find('unique', 'users')).toMatchObject({ severity: 'error', rows: 2, keys: ['3 = 4'] });
    expect(find('unique', 'users')!.message).toContain('lower(email)');
    expect(find('conflict', 'users')).toMatchObject({ severity: 'error', rows: 1, keys: ['1'] });
    expect(find('conflict', 'users')!.column).toContain('email');
    const hashes = find('password-hash', 'users', 'password_hash')!;
    expect(hashes.severity).toBe('warning');
    expect(hashes.message).toMatch(/bcrypt 6.*argon2 1|bcrypt 6.*unknown 1/);
    expect(hashes.message).toContain('argon2 1');
    expect(hashes.message).toContain('unknown 1');
    expect(find('disk', undefined as unknown as string) ?? findings.find((f) => f.check === 'disk')).toMatchObject({ severity: 'info' });
    expect(human).toMatch(/ERROR\s+type\s+users\.age: 1 value\(s\) not an integer/);
    expect(human).not.toContain('postgres:postgres@');
  });

  it('a clean source passes with exit 0', async () => {
    const clean = path.join(dir, 'clean.db');
    const db = new Database(clean);
    db.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL); INSERT INTO t VALUES (1, 'a'), (2, 'b');`);
    db.close();
    const p = await databasePair('check_clean');
    const r = await cli(['check', '--source', `sqlite://${clean}`, '--target', p.targetUrl, '--backup-dir', path.join(dir, 'b2'), '--report-dir', dir]);
    expect(r.stdout).toContain('check: 0 error(s), 0 warning(s)');
    expect(r.code).toBe(0);
  });

  it('large objects on a PostgreSQL source are an error: nothing copies or mirrors them', async () => {
    const p = await databasePair('check_large_objects');
    await sql(p.legacyUrl, `CREATE TABLE docs (id int PRIMARY KEY, body oid); INSERT INTO docs VALUES (1, lo_from_bytea(0, 'a scanned contract'))`);
    await sql(p.targetUrl, `CREATE TABLE docs (id int PRIMARY KEY, body oid)`);
    const r = await cli(['check', '--source', p.legacyUrl, '--target', p.targetUrl, '--skip-backup', '--report-dir', dir]);
    expect(r.stdout).toMatch(/ERROR\s+large-objects\s+1 large object\(s\) \(0\.0 MB\) in pg_largeobject: Cutover copies and mirrors table rows only/);
    expect(r.code).toBe(1);
    // a PostgreSQL source: the connections the target must have room for are counted
    expect(r.stdout).toMatch(/ok\s+connections\s+the target allows \d+ connections; the source database has \d+ client session\(s\) now/);
    await sql(p.legacyUrl, `SELECT lo_unlink(body) FROM docs`);
    const clean = await cli(['check', '--source', p.legacyUrl, '--target', p.targetUrl, '--skip-backup', '--report-dir', dir]);
    expect(clean.stdout).not.toContain('large-objects');
  });

  it("the new database's own defaults (TimeZone, DateStyle, search_path…) differing from the source's are a warning naming each", async () => {
    const p = await databasePair('check_defaults');
    await sql(p.legacyUrl, 'CREATE TABLE t (id int PRIMARY KEY)');
    await sql(p.targetUrl, 'CREATE TABLE t (id int PRIMARY KEY)');
    const args = ['check', '--source', p.legacyUrl, '--target', p.targetUrl, '--skip-backup', '--report-dir', dir];
    expect((await cli(args)).stdout).toMatch(/ok\s+defaults\s+the databases have the same collation/);
    const db = (await sql(p.targetUrl, 'SELECT current_database() AS d')).rows[0].d as string;
    await sql(p.targetUrl, `ALTER DATABASE "${db}" SET timezone = 'Asia/Tokyo'; ALTER DATABASE "${db}" SET datestyle = 'SQL, DMY'`);
    const r = await cli(args);
    expect(r.stdout).toMatch(/WARNING\s+defaults\s+the new database's defaults differ \(DateStyle: source "ISO, MDY", target "SQL, DMY"; TimeZone: source "[^"]+", target "Asia\/Tokyo"\)/);
    expect(r.code).toBe(2);
  });

  it('a target with too little room for every session to read from it beside the appliers is a warning', () => {
    // 60 usable connections keep 44 for sessions (12 for the appliers, 4 spare); 67 would keep 50
    expect(connectionFinding(60, 97, 50)).toMatchObject({ severity: 'warning', check: 'connections' });
    expect(connectionFinding(60, 97, 50).message).toContain("sessions past 44 read from the source only; raise the target's max_connections by at least 7");
    expect(connectionFinding(97, 97, 40)).toMatchObject({ severity: 'info' });
  });

  it('warnings alone (an unknown password-hash format) exit 2', async () => {
    const warn = path.join(dir, 'warn.db');
    const db = new Database(warn);
    db.exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, password TEXT NOT NULL);`);
    db.prepare('INSERT INTO users VALUES (?, ?), (?, ?)').run(1, BCRYPT, 2, 'md5:5f4dcc3b5aa765d61d8327deb882cf99');
    db.close();
    const p = await databasePair('check_warn');
    const r = await cli(['check', '--source', `sqlite://${warn}`, '--target', p.targetUrl, '--backup-dir', path.join(dir, 'b3'), '--report-dir', dir]);
    expect(r.stdout).toMatch(/WARNING password-hash\s+users\.password: password hash formats: bcrypt 1, unknown 1/);
    expect(r.stdout).toContain('check: 0 error(s), 1 warning(s)');
    expect(r.code).toBe(2);
  });

  it('numeric(p,s): more decimals than the scale is a warning (PostgreSQL rounds), too many digits an error', async () => {
    const money = path.join(dir, 'money.db');
    const db = new Database(money);
    db.exec(`CREATE TABLE prices (id INTEGER PRIMARY KEY, amount DECIMAL(10,2), whole NUMERIC(5,0))`);
    db.prepare('INSERT INTO prices VALUES (?, ?, ?)').run(1, 12.5, 2.0);
    db.prepare('INSERT INTO prices VALUES (?, ?, ?)').run(2, 1.005, 7);
    db.prepare('INSERT INTO prices VALUES (?, ?, ?)').run(3, 123456789.5, 3.25);
    db.prepare('INSERT INTO prices VALUES (?, ?, ?)').run(4, 99.99, null);
    db.close();
    const p = await databasePair('check_numeric');
    const r = await cli(['check', '--source', `sqlite://${money}`, '--target', p.targetUrl, '--backup-dir', path.join(dir, 'b4'), '--report-dir', dir, '--json']);
    const got: Finding[] = JSON.parse(r.stdout).findings.filter((f: Finding) => f.check === 'type');
    expect(got).toEqual(expect.arrayContaining([
      expect.objectContaining({ severity: 'warning', column: 'amount', rows: 1, keys: ['2'], message: expect.stringContaining('more decimals than numeric(10, 2) keeps: PostgreSQL rounds them') }),
      expect.objectContaining({ severity: 'error', column: 'amount', rows: 1, keys: ['3'], message: expect.stringContaining('too large for numeric(10, 2)') }),
      expect.objectContaining({ severity: 'warning', column: 'whole', rows: 1, keys: ['3'] }),
    ]));
    expect(got).toHaveLength(3);
    expect(r.code).toBe(1);
  });

  it('dates and timestamps as the proxy stores them are valid, BC and past year 9999 too', async () => {
    const file = path.join(dir, 'era.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, day DATE, at TIMESTAMP, tz TIMESTAMPTZ)`);
    const ins = db.prepare('INSERT INTO events VALUES (?, ?, ?, ?)');
    // as the proxy writes them (the era, PostgreSQL's printed form), and as the reverse mirror writes a BC timestamptz back
    ins.run(1, '0044-03-15 BC', '0044-03-15 10:00:00 BC', '0044-03-15 10:00:00 BC');
    ins.run(2, '0001-02-29 BC', '0001-12-31 23:59:59.5 BC', '4713-01-01 12:00:00 BC');
    ins.run(3, '4714-11-24 BC', null, null);
    ins.run(4, '10000-01-01', null, null);
    ins.run(5, 'infinity', null, null);
    ins.run(6, '-infinity', null, null);
    ins.run(7, '2024-01-05', '2024-01-05 10:00:00', '2024-01-05 09:00:00');
    // no dates: a day 1 AD lacks, 1 AD is no leap year, before PostgreSQL's first day, no year 0
    ins.run(8, '0044-02-30 BC', null, null);
    ins.run(9, '0001-02-29', null, null);
    ins.run(10, '4714-11-23 BC', null, null);
    ins.run(11, '0000-01-01 BC', null, null);
    db.close();
    const p = await databasePair('check_era');
    const r = await cli(['check', '--source', `sqlite://${file}`, '--target', p.targetUrl, '--backup-dir', path.join(dir, 'b6'), '--report-dir', dir, '--json']);
    const got: Finding[] = JSON.parse(r.stdout).findings.filter((f: Finding) => f.check === 'type');
    expect(got).toEqual([expect.objectContaining({ severity: 'error', column: 'day', rows: 4, keys: ['8', '9', '10', '11'], message: expect.stringContaining('not an ISO date') })]);
  });

  it('timestamps in another spelling than the proxy compares in are a warning', async () => {
    const file = path.join(dir, 'stamps.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE sessions (id INTEGER PRIMARY KEY, expires TIMESTAMP, seen TIMESTAMPTZ)`);
    const ins = db.prepare('INSERT INTO sessions VALUES (?, ?, ?)');
    ins.run(1, '2024-01-05 10:00:00', '2024-01-05 10:00:00.5'); // SQLite's CURRENT_TIMESTAMP form, and the proxy's
    ins.run(2, '2024-01-05T10:00:00.000Z', null); // JavaScript's toISOString
    ins.run(3, '2024-01-05 10:00:00.500000', '2024-01-05 10:00:00+00'); // Python's isoformat, a zone
    db.close();
    const p = await databasePair('check_stamps');
    const r = await cli(['check', '--source', `sqlite://${file}`, '--target', p.targetUrl, '--backup-dir', path.join(dir, 'b5'), '--report-dir', dir, '--json']);
    const got: Finding[] = JSON.parse(r.stdout).findings.filter((f: Finding) => f.check === 'type');
    expect(got).toEqual([
      expect.objectContaining({ severity: 'warning', column: 'expires', rows: 2, keys: ['2', '3'], message: expect.stringContaining('not written as the proxy writes and compares them') }),
      expect.objectContaining({ severity: 'warning', column: 'seen', rows: 1, keys: ['3'] }),
    ]);
    expect(r.code).toBe(2);
  });

  it('recognises hash formats', () => {
    expect(hashFormat(BCRYPT)).toBe('bcrypt');
    expect(hashFormat('$argon2i$v=19$m=4096,t=3,p=1$abc$def')).toBe('argon2');
    expect(hashFormat('$scrypt$ln=16,r=8,p=1$abc$def')).toBe('scrypt');
    expect(hashFormat('pbkdf2_sha256$600000$salt$hash')).toBe('pbkdf2');
    expect(hashFormat('5f4dcc3b5aa765d61d8327deb882cf99')).toBe('unknown');
  });
});
