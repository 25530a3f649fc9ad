// Operator-facing edges of the one-shot commands: a password an operator
// pasted unencoded never reaches output or reports, an unreachable target ends
// verify with exit 1 instead of a hang, --tables refuses a typo and takes only
// the chosen tables' sequences, usage errors are one line.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';

const PASSWORD = 'p@ss w0rd:/x';
let pair: DbPair;
let src: string;
let tgt: string;

/** The pair's URLs as the role `odd`, its password pasted as is (unencoded). */
function asOdd(url: string): string {
  const u = new URL(url);
  return `postgres://odd:${PASSWORD}@${u.host}${u.pathname}`;
}

beforeAll(async () => {
  pair = await databasePair('cli_hardening');
  for (const url of [pair.legacyUrl, pair.targetUrl]) {
    await sql(url, `DO $$ BEGIN CREATE ROLE odd LOGIN SUPERUSER PASSWORD '${PASSWORD}'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  }
  await sql(pair.legacyUrl, `
    CREATE TABLE a (id serial PRIMARY KEY, v text);
    CREATE TABLE b (id bigserial PRIMARY KEY, a_id int);
    CREATE SEQUENCE shared_seq;
    CREATE TABLE c (id int PRIMARY KEY DEFAULT nextval('shared_seq'));
    INSERT INTO a (v) SELECT 'v' || g FROM generate_series(1, 10) g;`);
  src = asOdd(pair.legacyUrl);
  tgt = asOdd(pair.targetUrl);
});

describe('one-shot commands at their edges', () => {
  it('a password with @, a space, : and / is in no output and no report', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-hard-'));
    const r = await cli(['check', '--source', src, '--target', tgt, '--report-dir', dir, '--backup-dir', dir, '--json']);
    expect(r.stdout + r.stderr).not.toMatch(/w0rd|p@ss/);
    const reports = readdirSync(dir).filter((f) => f.startsWith('check-'));
    expect(reports).toHaveLength(1);
    const report = readFileSync(path.join(dir, reports[0]!), 'utf8');
    expect(report).toContain('postgres://odd:***@');
    expect(report).not.toMatch(/w0rd|p@ss/);
    // the URL parsed to the real password: the check connected
    expect(r.stdout).toContain('source reachable');
    const bad = await cli(['verify', '--source', src, '--target', `postgres://odd:${PASSWORD}@127.0.0.1:${await freePort()}/x`]);
    expect(bad.stderr).not.toMatch(/w0rd|p@ss/);
  });

  it('verify with the target down exits 1 at once, naming the target (it hung with the source connection open)', async () => {
    const t0 = Date.now();
    const port = await freePort();
    const r = await cli(['verify', '--source', pair.legacyUrl, '--target', `postgres://x:y@127.0.0.1:${port}/x`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`cutover: cannot connect to the target (new) database 127.0.0.1:${port}/x: connect ECONNREFUSED 127.0.0.1:${port}\n`);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('schema --tables carries the chosen tables\' sequences only and refuses a table that is not there', async () => {
    const only = await cli(['schema', '--source', pair.legacyUrl, '--tables', 'a,c']);
    expect(only.code, only.stderr).toBe(0);
    expect(only.stdout).toContain('CREATE SEQUENCE IF NOT EXISTS public.a_id_seq');
    expect(only.stdout).toContain('CREATE SEQUENCE IF NOT EXISTS public.shared_seq');
    expect(only.stdout).not.toContain('b_id_seq');
    const typo = await cli(['schema', '--source', pair.legacyUrl, '--tables', 'a,bb']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toBe('cutover: no such table on the source: bb\n');
    const bf = await cli(['backfill', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--tables', 'nope', '--state', path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-hard-')), 's.db')]);
    expect(bf.code).toBe(1);
    expect(bf.stderr).toContain('no such table on the source: nope');
  });

  it('verify: a table missing on the target, or lacking a column, is a difference (exit 1), not a warning', async () => {
    // only a is on the target, and without its column v
    await sql(pair.targetUrl, 'DROP TABLE IF EXISTS a; CREATE TABLE a (id int PRIMARY KEY)');
    try {
      const r = await cli(['verify', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--tables', 'a,b', '--json']);
      expect(r.code, r.stderr).toBe(1);
      const report = JSON.parse(r.stdout) as { equal: boolean; uncompared: { table: string; reason: string }[] };
      expect(report.equal).toBe(false);
      expect(report.uncompared).toEqual([{ table: 'a', reason: 'target lacks column(s) v' }, { table: 'b', reason: 'not on the target' }]);
      const text = await cli(['verify', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--tables', 'a,b']);
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(/^verify: 2 of 2 table\(s\) differ/);
    } finally {
      await sql(pair.targetUrl, 'DROP TABLE IF EXISTS a');
    }
  });

  it('capture install over a new database without the tables refuses, one line, and installs nothing', async () => {
    const r = await cli(['capture', 'install', '--skip-backup', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--tables', 'a,b']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('cutover: capture install: the new database cannot take every captured table: a (not on the new database), b (not on the new database); run `cutover schema --apply` first\n');
    expect((await sql(pair.legacyUrl, "SELECT to_regclass('cutover.changes') IS NULL AS none")).rows).toEqual([{ none: true }]);
  });

  it('usage errors are one line and exit 1; a percent is decimal digits', async () => {
    const usage = [['bogus'], ['status', '--bogus'], ['reads'], ['reads', '-1'], ['reads', '0x32'], ['reads', '5', '6'], ['verify', '--tables', ''], ['demo', '--rows', '-5'], ['demo', '--rows', 'abc']];
    for (const args of usage) {
      const r = await cli([...args, '--control', `127.0.0.1:${await freePort()}`, '--state', '/nonexistent/state.db']);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(/^cutover: /);
    }
    expect((await cli(['reads', '0x32'])).stderr).toContain('the read percent must be a whole number from 0 to 100, got "0x32"');
    expect((await cli(['reads', '5', '6'])).stderr).toContain("too many arguments for 'reads'");
    expect((await cli(['verify', '--tables', ''])).stderr).toContain('invalid tables: an empty list names no table');
    expect((await cli(['demo', '--rows', 'abc'])).stderr).toBe('cutover: --rows: expected a whole number, got "abc"\n');
  });
});
