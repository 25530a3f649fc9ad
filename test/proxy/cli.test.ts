import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { databasePair, type DbPair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';
import { readdirSync, readFileSync } from 'node:fs';
import { cli, spawnCli } from '../harness/cli.ts';

let pair: DbPair;

beforeAll(async () => {
  pair = await databasePair('proxy_cli');
});

describe('cutover proxy on the command line', () => {
  it('refuses a bad URL with exit 1 and a one-line reason naming the key, password redacted', async () => {
    const r = await cli(['proxy', '--source', 'mysql://app:hunter2@db/x']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^cutover: invalid source: .*mysql/);
    expect(r.stderr).not.toContain('hunter2');
  });

  it('refuses an unknown config key with exit 1, naming it', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-cli-'));
    const file = path.join(dir, 'cutover.config.json');
    writeFileSync(file, JSON.stringify({ source: pair.legacyUrl, listne: '127.0.0.1:1' }));
    const r = await cli(['proxy', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown configuration key "listne"');
  });

  it('refuses --processes above 1 with a target, before listening: the workers would mirror and trip reads each on its own', async () => {
    const port = await freePort();
    const r = await cli(['proxy', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--processes', '2', '--listen', `127.0.0.1:${port}`, '--control', `127.0.0.1:${await freePort()}`, '--log-level', 'silent']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^cutover: --processes 2 serves passthrough only .*with --target run one process/);
    await expect(new Promise((resolve, reject) => net.connect(port, '127.0.0.1').on('connect', resolve).on('error', reject))).rejects.toThrow(/ECONNREFUSED/);
  });

  it('refuses trust authentication on a non-loopback listener', async () => {
    const r = await cli(['proxy', '--source', pair.legacyUrl, '--auth', 'trust', '--listen', '0.0.0.0:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('auth "trust" is allowed only on a loopback listener');
  });

  it('exits 1 with a one-line reason when the control address is taken, listening nowhere', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const control = (taken.address() as net.AddressInfo).port;
    const port = await freePort();
    try {
      const r = await cli(['proxy', '--source', pair.legacyUrl, '--listen', `127.0.0.1:${port}`, '--control', `127.0.0.1:${control}`, '--log-level', 'silent']);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`cutover: cannot serve the control API on 127.0.0.1:${control}: EADDRINUSE`);
      // the proxy's own listener went with it
      await expect(new Promise((resolve, reject) => net.connect(port, '127.0.0.1').on('connect', resolve).on('error', reject))).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      taken.close();
    }
  });

  it('exits 1 with a one-line reason when the listen address is taken, also while mirroring (nothing left running)', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-cli-')), 'state.db');
    try {
      const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the proxy did not exit within 20 s')), 20_000));
      const run = cli(['proxy', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--state', state, '--listen', `127.0.0.1:${port}`, '--control', `127.0.0.1:${await freePort()}`, '--log-level', 'silent']);
      const r = await Promise.race([run, late]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`cutover: cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
    } finally {
      taken.close();
    }
  }, 30_000);

  it('on SIGTERM lets an open transaction finish, then exits 0', async () => {
    const port = await freePort();
    const { child, log, exited } = await spawnCli(['proxy', '--source', pair.legacyUrl, '--listen', `127.0.0.1:${port}`, '--control', `127.0.0.1:${await freePort()}`, '--drain-timeout', '10'], 'control API listening');
    try {
      const c = new pg.Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/${pair.name}` });
      const notices: string[] = [];
      c.on('error', (e) => notices.push((e as { code?: string }).code ?? e.message));
      await c.connect();
      await c.query('CREATE TABLE IF NOT EXISTS drained (n int)');
      await c.query('BEGIN');
      await c.query('INSERT INTO drained VALUES (1)');
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      // still inside the transaction: the proxy waits for it
      await c.query('INSERT INTO drained VALUES (2)');
      await c.query('COMMIT');
      const code = await exited;
      expect(code).toBe(0);
      // once idle the session was ended the way PostgreSQL ends it on shutdown
      expect(notices).toContain('57P01');
      expect(log()).not.toContain('postgres:postgres');
      const check = new pg.Client({ connectionString: pair.legacyUrl });
      await check.connect();
      expect((await check.query('SELECT count(*)::int AS n FROM drained')).rows[0].n).toBe(2);
      await check.end();
      await c.end().catch(() => undefined);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('keeps running on SIGHUP (logrotate, a closed terminal), as PgBouncer does; Node would have exited', async () => {
    const port = await freePort();
    const { child, log, exited } = await spawnCli(['proxy', '--source', pair.legacyUrl, '--listen', `127.0.0.1:${port}`, '--control', `127.0.0.1:${await freePort()}`], 'control API listening');
    try {
      const c = new pg.Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/${pair.name}` });
      await c.connect();
      child.kill('SIGHUP');
      for (let i = 0; i < 50 && !log().includes('SIGHUP'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(log()).toContain('SIGHUP: the proxy keeps running');
      // the open session and new ones are served
      expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
      const d = new pg.Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/${pair.name}` });
      await d.connect();
      expect((await d.query('SELECT 2 AS two')).rows[0].two).toBe(2);
      await Promise.all([c.end(), d.end()]);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('with --processes 2 serves clients from both workers and routes every cancel to the right one', async () => {
    const port = await freePort();
    const { child, exited } = await spawnCli(['proxy', '--source', pair.legacyUrl, '--listen', `127.0.0.1:${port}`, '--control', `127.0.0.1:${await freePort()}`, '--processes', '2'], '"processes":2');
    try {
      const url = `postgres://postgres:postgres@127.0.0.1:${port}/${pair.name}`;
      // a SIGHUP to the whole fleet (a closed terminal signals its process group) stops no worker
      for (const pid of [child.pid!, ...childPids(child.pid!)]) process.kill(pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 200));
      const clients = Array.from({ length: 6 }, () => new pg.Client({ connectionString: url }));
      await Promise.all(clients.map((c) => c.connect()));
      const started = Date.now();
      const sleeps = clients.map((c) => c.query('SELECT pg_sleep(10)').then(() => 'finished', (e) => (e as { code: string }).code));
      await new Promise((r) => setTimeout(r, 300));
      for (const c of clients) {
        const canceller = new pg.Client({ connectionString: url });
        (canceller as unknown as { cancel(c: pg.Client, q: unknown): void }).cancel(c, (c as unknown as { activeQuery: unknown }).activeQuery);
      }
      expect(await Promise.all(sleeps)).toEqual(Array(6).fill('57014'));
      expect(Date.now() - started).toBeLessThan(3000);
      await Promise.all(clients.map((c) => c.end()));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

/** The process IDs whose parent is `pid` (the fleet's workers). */
function childPids(pid: number): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid ? [Number(d)] : [];
    } catch {
      return [];
    }
  });
}
