// Connection URLs as libpq reads them: `?password=` was ignored (every session
// logged in without a password), and `sslmode=bogus` was accepted as "no TLS".
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDbUrl, redactUrl } from '../../common/urls.ts';
import { cli } from '../harness/cli.ts';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';

const PASSWORD = 'q-pass-8812';
let pair: DbPair;

/** The pair's legacy database as the role `qp`, the password in the query. */
function withQueryPassword(url: string, password = PASSWORD): string {
  const u = new URL(url);
  return `postgres://qp@${u.host}${u.pathname}?sslmode=disable&password=${encodeURIComponent(password)}`;
}

beforeAll(async () => {
  pair = await databasePair('url_query');
  await sql(pair.legacyUrl, `DO $$ BEGIN CREATE ROLE qp LOGIN SUPERUSER PASSWORD '${PASSWORD}'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  await sql(pair.legacyUrl, 'CREATE TABLE items (id int PRIMARY KEY, v text)');
});

describe('connection URL query parameters', () => {
  it('?password= is the password (over the userinfo, as libpq), for the sessions and for pg_dump, and is shown as ***', async () => {
    expect(parseDbUrl('postgres://app@h/db?password=a%40b')).toMatchObject({ user: 'app', password: 'a@b' });
    expect(parseDbUrl('postgres://app:old@h/db?password=new')).toMatchObject({ password: 'new' });
    const src = withQueryPassword(pair.legacyUrl);
    const schema = await cli(['schema', '--source', src]);
    expect(schema.code, schema.stderr).toBe(0);
    expect(schema.stdout).toContain('items');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-urlq-'));
    const backup = await cli(['backup', '--source', src, '--backup-dir', dir, '--state', path.join(dir, 'state.db')]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout + backup.stderr).not.toContain(PASSWORD);
    const down = await cli(['verify', '--source', src, '--target', `postgres://qp@127.0.0.1:${await freePort()}/x?password=${PASSWORD}`]);
    expect(down.code).toBe(1);
    expect(down.stdout + down.stderr).not.toContain(PASSWORD);
    expect(redactUrl(src)).not.toContain(PASSWORD);
  });

  it('an sslmode libpq does not know is refused in one line naming the allowed values, exit 1', async () => {
    const r = await cli(['schema', '--source', `${withQueryPassword(pair.legacyUrl)}&sslmode=bogus`.replace('sslmode=disable&', '')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^cutover: invalid source: database URL: invalid sslmode "bogus" in postgres:\/\/qp@[^ ]*password=\*\*\*[^ ]* \(expected disable, allow, prefer, require, verify-ca, verify-full\)\n$/);
    expect(r.stderr).not.toContain(PASSWORD);
  });
});
