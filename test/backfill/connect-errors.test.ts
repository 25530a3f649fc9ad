// A command that cannot reach one of its databases says which one: its role
// (source/legacy or target/new) and host:port/dbname (or the SQLite file), in
// one line, exit 1, never the password. "connect ECONNREFUSED 127.0.0.1:5432"
// alone did not tell an operator whose two databases share a host which was down.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';

const SECRET = 'Sekr1tPassw0rd';
let pair: DbPair;
let dir: string;
let down: number;

const at = (url: string) => new URL(url).host;
const withPassword = (url: string, password: string) => {
  const u = new URL(url);
  u.password = password;
  return u.toString();
};

beforeAll(async () => {
  pair = await databasePair('connect_errors');
  await sql(pair.legacyUrl, 'CREATE TABLE t (id int PRIMARY KEY, v text)');
  await sql(pair.targetUrl, 'CREATE TABLE t (id int PRIMARY KEY, v text)');
  dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-connect-'));
  down = await freePort();
});

const common = () => ['--state', path.join(dir, 'state.db'), '--report-dir', dir, '--backup-dir', dir];

describe('connection errors name the database', () => {
  it('an unreachable source: verify, backfill, schema, capture status and backup name the source (legacy) and where it is', async () => {
    const source = `postgres://app:${SECRET}@127.0.0.1:${down}/legacy_app`;
    for (const cmd of [['verify'], ['backfill'], ['schema'], ['capture', 'status'], ['backup']]) {
      const r = await cli([...cmd, '--source', source, '--target', pair.targetUrl, ...common()]);
      expect(r.code, cmd.join(' ')).toBe(1);
      expect(r.stderr, cmd.join(' ')).toBe(`cutover: cannot connect to the source (legacy) database 127.0.0.1:${down}/legacy_app: connect ECONNREFUSED 127.0.0.1:${down}\n`);
    }
  });

  it('an unreachable target: verify, backfill and schema --apply name the target (new)', async () => {
    const target = `postgres://app:${SECRET}@127.0.0.1:${down}/new_app`;
    for (const cmd of [['verify'], ['backfill'], ['schema', '--apply']]) {
      const r = await cli([...cmd, '--source', pair.legacyUrl, '--target', target, ...common()]);
      expect(r.code, cmd.join(' ')).toBe(1);
      expect(r.stderr, cmd.join(' ')).toBe(`cutover: cannot connect to the target (new) database 127.0.0.1:${down}/new_app: connect ECONNREFUSED 127.0.0.1:${down}\n`);
    }
  });

  it('a wrong password or database name on the same server as the other side: the role says which, the password is not shown', async () => {
    const wrong = withPassword(pair.targetUrl, SECRET);
    const r = await cli(['verify', '--source', pair.legacyUrl, '--target', wrong, ...common()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^cutover: cannot connect to the target \\(new\\) database ${at(pair.targetUrl)}/connect_errors: password authentication failed for user "\\S+" \\(28P01\\)\\n$`));
    expect(r.stderr).not.toContain(SECRET);
    const noDb = new URL(pair.legacyUrl);
    noDb.pathname = '/no_such_db';
    const b = await cli(['backfill', '--source', noDb.toString(), '--target', pair.targetUrl, ...common()]);
    expect(b.code).toBe(1);
    expect(b.stderr).toBe(`cutover: cannot connect to the source (legacy) database ${at(pair.legacyUrl)}/no_such_db: database "no_such_db" does not exist (3D000)\n`);
  });

  it('a missing SQLite file is named with its role and path', async () => {
    const file = path.join(dir, 'missing.db');
    for (const cmd of [['schema'], ['verify'], ['backfill'], ['capture', 'status'], ['backup']]) {
      const r = await cli([...cmd, '--source', `sqlite://${file}`, '--target', pair.targetUrl, ...common()]);
      expect(r.code, cmd.join(' ')).toBe(1);
      expect(r.stderr, cmd.join(' ')).toBe(`cutover: cannot open the source (legacy) database ${file}: unable to open database file (SQLITE_CANTOPEN)\n`);
    }
  });

  it('check reports each side once, named', async () => {
    const r = await cli(['check', '--source', `postgres://app:${SECRET}@127.0.0.1:${down}/legacy_app`, '--target', pair.targetUrl, ...common()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`cannot connect to the source (legacy) database 127.0.0.1:${down}/legacy_app: connect ECONNREFUSED`);
    expect(r.stdout).not.toContain('source: cannot connect');
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });
});
