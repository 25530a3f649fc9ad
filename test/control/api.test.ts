import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databasePair, type DbPair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';
import { cli, spawnCli } from '../harness/cli.ts';

const TOKEN = 'test-token-not-a-secret';
let pair: DbPair;
let child: ChildProcess;
let control: string;

beforeAll(async () => {
  pair = await databasePair('control_api');
  control = `127.0.0.1:${await freePort()}`;
  const proxy = await spawnCli(['proxy', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--listen', `127.0.0.1:${await freePort()}`, '--control', control], 'control API listening', { CUTOVER_TOKEN: TOKEN });
  child = proxy.child;
  expect(proxy.log()).not.toContain(TOKEN);
});
afterAll(() => {
  child?.kill('SIGKILL');
});

function steer(args: string[], token = TOKEN) {
  return cli([...args, '--control', control], { CUTOVER_TOKEN: token });
}

describe('control API and steering commands', () => {
  it('refuses requests without the token (401), but answers /healthz', async () => {
    expect((await fetch(`http://${control}/status`)).status).toBe(401);
    expect((await fetch(`http://${control}/status`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`http://${control}/healthz`)).status).toBe(200);
  });

  it('names the field of a malformed body (400)', async () => {
    const res = await fetch(`http://${control}/reads`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ percent: 150 }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ field: 'percent', error: expect.stringContaining('invalid percent') });
  });

  it('cutover reads / status / rollback steer the running proxy', async () => {
    const set = await steer(['reads', '25', '--json']);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ readPercent: 25 });
    const status = await steer(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/reads to new\s+0 %|reads to new\s+25 %/);
    const rb = await steer(['rollback', '--reason', 'test', '--json']);
    expect(JSON.parse(rb.stdout)).toMatchObject({ readPercent: 0 });
    const bad = await steer(['reads', '101']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('expected a whole number from 0 to 100');
    const noToken = await steer(['status'], '');
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('401');
    const metrics = await fetch(`http://${control}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await metrics.text()).toContain('cutover_read_percent');
  });

  it('says clearly when no proxy answers', async () => {
    const r = await cli(['status', '--control', `127.0.0.1:${await freePort()}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cutover: no proxy answers at --control/);
  });
});

describe('durable state', () => {
  it('a proxy killed with SIGKILL comes back with its read percent, trip and history', async () => {
    const { mkdtempSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-state-')), 'state.db');
    const ctl = `127.0.0.1:${await freePort()}`;
    const args = async () => ['proxy', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--listen', `127.0.0.1:${await freePort()}`, '--control', ctl, '--state', state];
    const first = await spawnCli(await args(), 'control API listening');
    const set = await cli(['reads', '40', '--control', ctl]);
    expect(set.code).toBe(0);
    first.child.kill('SIGKILL');
    await first.exited;
    const second = await spawnCli(await args(), 'control API listening');
    try {
      const s = await cli(['status', '--json', '--control', ctl]);
      const status = JSON.parse(s.stdout);
      expect(status.readPercent).toBe(40);
      expect(status.history).toEqual(expect.arrayContaining([expect.objectContaining({ what: 'readPercent', from: '0', to: '40', reason: 'operator: PUT /reads 40' })]));
    } finally {
      second.child.kill('SIGKILL');
    }
  });
});
