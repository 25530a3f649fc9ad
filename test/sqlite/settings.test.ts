// SET, RESET, SHOW, set_config() and current_setting() of configuration
// parameters through the SQLite source answer as PostgreSQL does: a name it
// does not know is 42704 (a name with a dot is a custom setting and any goes),
// one only the server's configuration sets is 55P02, and every parameter
// clients and ORMs set is accepted and shown back. Each statement runs on a
// real PostgreSQL too and the answers are compared. Before: SET of any name
// was accepted, and SHOW of a PostgreSQL parameter the session had not been
// given (work_mem) was 42704.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestProxy } from '../proxy/proxy-harness.ts';

const run = promisify(execFile);
import { comparedPair, referenceDatabase, resultsOrError, type ComparedPair } from './mirror-harness.ts';

let pair: ComparedPair;
let proxy: pg.Client;
let ref: pg.Client;

async function outcome(c: pg.Client, text: string): Promise<unknown> {
  const r = await resultsOrError(c, text, undefined, { endBlock: true });
  return Array.isArray(r) ? r.map((x) => [x.command, x.rows]) : r;
}

beforeAll(async () => {
  pair = await comparedPair('sqlite_settings', 'CREATE TABLE s (id INTEGER PRIMARY KEY)', ['CREATE TABLE s (id bigint PRIMARY KEY)']);
  ({ proxy, ref } = pair);
  for (const c of [ref, proxy]) c.on('notice', () => undefined);
});
afterAll(() => pair?.close());

const CASES: string[] = [
  'SET some_unknown_name = 1',
  `SET some_unknown_name TO 'x'`,
  'SHOW some_unknown_name',
  'RESET some_unknown_name',
  'SET LOCAL some_unknown_name = 1',
  'BEGIN; SET LOCAL some_unknown_name = 1; COMMIT',
  `SELECT set_config('some_unknown_name', '1', false)`,
  `SELECT current_setting('some_unknown_name')`,
  `SELECT current_setting('some_unknown_name', true)`,
  // custom settings: any name with a dot; SHOW of one never set is unknown
  'SHOW myapp.never_set',
  `SET myapp.tenant = 'acme'; SHOW myapp.tenant`,
  `SELECT current_setting('myapp.tenant')`,
  // known, but the server's configuration sets them
  `SET shared_buffers = '1MB'`,
  'SET fsync = off',
  `SET server_version = '1'`,
  'RESET server_version',
  // what drivers and ORMs set
  `SET client_encoding = 'UTF8'; SET NAMES 'UTF8'; SET DateStyle = 'ISO, MDY'; SET TimeZone = 'UTC'; SET TIME ZONE 'UTC'`,
  `SET extra_float_digits = 3; SHOW extra_float_digits`,
  `SET application_name = 'orm'; SHOW application_name`,
  `SET search_path = public; SHOW search_path`,
  `SET statement_timeout = 0; SET lock_timeout = '2s'; SET idle_in_transaction_session_timeout = 0; SHOW lock_timeout`,
  `SET standard_conforming_strings = on; SET intervalstyle = 'postgres'; SET bytea_output = 'hex'`,
  `SET default_transaction_isolation = 'read committed'; SHOW default_transaction_isolation`,
  `SET default_transaction_read_only = off; SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE`,
  `SET work_mem = '64MB'; SHOW work_mem; RESET work_mem; SHOW work_mem`,
  `SET jit = off; SET synchronous_commit = off; SET row_security = on; SET client_min_messages = warning; SHOW client_min_messages`,
  `BEGIN; SET LOCAL work_mem = '8MB'; SHOW work_mem; COMMIT`,
  `SHOW work_mem`,
  `SELECT set_config('work_mem', '16MB', false), current_setting('work_mem')`,
  `RESET ALL; SHOW work_mem`,
  // a setting with a unit is kept in SHOW's form: the largest unit that divides it, rounded as PostgreSQL rounds
  ...['3000', `'3s'`, '1500.6', `'1.5s'`, '60000', '86400000', `'100us'`, `'90min'`, `'5 s'`, `'1e3'`, '0'].map((v) => `SET statement_timeout = ${v}; SHOW statement_timeout`),
  `SET idle_in_transaction_session_timeout = 3000; SHOW idle_in_transaction_session_timeout`,
  `SET lock_timeout = 7200000; SHOW lock_timeout; SELECT current_setting('lock_timeout')`,
  `SELECT set_config('statement_timeout', '2500', false), current_setting('statement_timeout')`,
  ...[`'1GB'`, '65536', `'1.5MB'`, '1000', `'2000B'`].map((v) => `SET work_mem = ${v}; SHOW work_mem`),
  ...[`'16MB'`, '1000', '10'].map((v) => `SET temp_buffers = ${v}; SHOW temp_buffers`),
  // refused as PostgreSQL refuses them, with its message
  'SET statement_timeout = -1',
  `SET statement_timeout = 'abc'`,
  `SET statement_timeout = '1 sec'`,
  `SET statement_timeout = '2147483648'`,
  `SET work_mem = '1 mb'`,
  'SHOW statement_timeout',
  'RESET ALL',
];

describe('SQLite source: configuration parameters', () => {
  it('SET, SHOW, RESET, set_config and current_setting answer as PostgreSQL', async () => {
    for (const text of CASES) expect(await outcome(proxy, text), text).toEqual(await outcome(ref, text));
  });
});

describe('SQLite source: client_encoding at start-up', () => {
  // asyncpg sends client_encoding 'utf-8', quotes and all; PostgreSQL reads an encoding name without its
  // other characters and case. Before, the SQLite source refused it, and as an internal error (XX000).
  // psql sends the name as given (PGCLIENTENCODING); node-postgres sends none
  const showEncoding = async (url: string, encoding: string) => {
    const u = new URL(url);
    const args = ['-X', '-A', '-t', '-h', u.hostname, '-p', u.port, '-U', decodeURIComponent(u.username), '-d', u.pathname.slice(1), '-c', 'SHOW client_encoding'];
    const env = { ...process.env, PGPASSWORD: decodeURIComponent(u.password), PGCLIENTENCODING: encoding, PGCONNECT_TIMEOUT: '5' };
    return run(path.join(inject('legacy').binDir, 'psql'), args, { env }).then((r) => r.stdout.trim(), (e: { stderr?: string }) => /FATAL:\s+(.*)/.exec(e.stderr ?? '')?.[1] ?? String(e.stderr));
  };
  it('takes UTF8 however it is spelt, as PostgreSQL does, and refuses another encoding by name', async () => {
    const refUrl = await referenceDatabase('sqlite_settings_encoding');
    // the SQLite file served alone (no mirror): the engine reads the start-up parameters itself
    const dir = mkdtempSync(path.join(tmpdir(), 'cutover-encoding-'));
    new Database(path.join(dir, 'app.db')).close();
    const alone = await startTestProxy({ source: `sqlite://${path.join(dir, 'app.db')}`, users: [{ name: 'app', password: 'secret' }] });
    try {
      for (const spelling of [`'utf-8'`, 'utf-8', 'Unicode', 'UTF8']) {
        expect(await showEncoding(alone.url('app', 'app', 'secret'), spelling), spelling).toBe(await showEncoding(refUrl, spelling));
      }
      expect(await showEncoding(alone.url('app', 'app', 'secret'), 'LATIN1')).toBe('client_encoding LATIN1 is not supported by the SQLite source (only UTF8)');
    } finally {
      await alone.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
