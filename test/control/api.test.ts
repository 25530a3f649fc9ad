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

  it('a known path with the wrong method is 405 with Allow; an unknown path 404', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const wrong = await fetch(`http://${control}/reads`, { method: 'POST', headers: auth });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('PUT');
    expect(await wrong.json()).toMatchObject({ error: expect.stringContaining('method not allowed (use PUT)') });
    expect((await fetch(`http://${control}/status?x=1`, { method: 'DELETE', headers: auth })).status).toBe(405);
    expect((await fetch(`http://${control}/nope`, { headers: auth })).status).toBe(404);
  });

  it('names the field of a malformed body (400)', async () => {
    const res = await fetch(`http://${control}/reads`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ percent: 150 }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ field: 'percent', error: expect.stringContaining('invalid percent') });
  });

  it('refuses an illegal phase transition: 409 naming both phases, exit 1 on the CLI', async () => {
    const res = await fetch(`http://${control}/phase`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ phase: 'SHIFTING' }) });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ from: 'NOT_STARTED', to: 'SHIFTING', error: expect.stringContaining('illegal phase transition NOT_STARTED → SHIFTING') });
    const r = await steer(['phase', 'promoted']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^cutover: control API PUT \/phase: 409 illegal phase transition NOT_STARTED → PROMOTED/);
    const early = await steer(['reads', '25']);
    expect(early.code).toBe(1);
    expect(early.stderr).toContain('need phase VERIFY, SHIFTING, ROLLED_BACK or PROMOTED (phase is NOT_STARTED');
    const bad = await fetch(`http://${control}/phase`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ phase: 'DONE' }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'phase' });
  });

  it('promote and finalize are refused with the reason in the wrong phase (409); the status page is served', async () => {
    const res = await fetch(`http://${control}/promote`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: expect.stringContaining('illegal phase transition NOT_STARTED → PROMOTED') });
    const fin = await fetch(`http://${control}/finalize`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(fin.status).toBe(409);
    expect(await fin.json()).toMatchObject({ error: 'finalize: needs phase PROMOTED (phase is NOT_STARTED)' });
    const bad = await fetch(`http://${control}/promote`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ force: 'yes' }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'force' });
    const page = await fetch(`http://${control}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>cutover</title>');
  });

  it('cutover phase / step / reads / status / rollback steer the running proxy', async () => {
    for (const p of ['PREFLIGHT', 'BACKUP', 'CAPTURE', 'BACKFILL', 'VERIFY']) expect((await steer(['phase', p])).code).toBe(0);
    const verified = await steer(['verify', '--source', pair.legacyUrl, '--target', pair.targetUrl]);
    expect(verified.code, verified.stderr).toBe(0);
    const stepped = await steer(['step', '--json']);
    expect(stepped.code, stepped.stderr).toBe(0);
    expect(JSON.parse(stepped.stdout)).toMatchObject({ phase: 'SHIFTING', readPercent: 10, planStep: 0 });
    const set = await steer(['reads', '25', '--json']);
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ readPercent: 25 });
    const status = await steer(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/reads to new\s+0 %|reads to new\s+25 %/);
    const detailed = await steer(['status', '--detailed']);
    expect(detailed.stdout).toMatch(/plan\s+10 → \[25\] → 50/);
    expect(detailed.stdout).toMatch(/holds\s+errorRate\s+target error rate/);
    const rb = await steer(['rollback', '--reason', 'test', '--json']);
    expect(JSON.parse(rb.stdout)).toMatchObject({ readPercent: 0, phase: 'ROLLED_BACK' });
    expect(JSON.parse(rb.stdout).history).toEqual(expect.arrayContaining([expect.objectContaining({ what: 'phase', from: 'SHIFTING', to: 'ROLLED_BACK', reason: 'test' })]));
    const bad = await steer(['reads', '101']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('the read percent must be a whole number from 0 to 100');
    const noToken = await steer(['status'], '');
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('401');
    const metrics = await fetch(`http://${control}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await metrics.text()).toContain('cutover_read_percent');
  });

  it('says clearly when no proxy answers; status, reads and rollback then act on the state store directly', async () => {
    const { existsSync, mkdtempSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-state-')), 'state.db');
    const nobody = `127.0.0.1:${await freePort()}`;
    const r = await cli(['step', '--control', nobody, '--state', state]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^cutover: no proxy answers at --control/);
    // a --state naming no store is refused, not created as a fresh NOT_STARTED migration
    const typo = await cli(['status', '--control', nobody, '--state', state]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/^cutover: no proxy answers at --control .*, and no state store at .*state\.db \(give the --state the proxy uses\)\n$/);
    expect(existsSync(state)).toBe(false);
    const { SqliteStateStore } = await import('../../control/state/sqlite-store.ts');
    await new SqliteStateStore(state).close();
    const s = await cli(['status', '--control', nobody, '--state', state]);
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('no proxy answered: read from the state store directly');
    // the plan's next step from the store's read percent (it said "complete" at 0 %)
    expect(s.stdout).toMatch(/plan +10 → 25 → 50 → 75 → 90 → 100; next step 10 %/);
    const rb = await cli(['rollback', '--reason', 'offline', '--json', '--control', nobody, '--state', state]);
    expect(rb.code).toBe(0);
    expect(JSON.parse(rb.stdout)).toMatchObject({ direct: true, phase: 'NOT_STARTED', readPercent: 0 });
  });
});

describe('durable state', () => {
  it('a proxy killed with SIGKILL mid-plan comes back with its phase, read percent, plan position and history', async () => {
    const { mkdtempSync } = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-state-')), 'state.db');
    const ctl = `127.0.0.1:${await freePort()}`;
    const args = async () => ['proxy', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--listen', `127.0.0.1:${await freePort()}`, '--control', ctl, '--state', state];
    const first = await spawnCli(await args(), 'control API listening');
    for (const p of ['PREFLIGHT', 'BACKUP', 'CAPTURE', 'BACKFILL', 'VERIFY']) expect((await cli(['phase', p, '--control', ctl])).code).toBe(0);
    expect((await cli(['verify', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--control', ctl])).code).toBe(0);
    expect((await cli(['step', '--control', ctl])).code).toBe(0);
    const set = await cli(['step', '--control', ctl]);
    expect(set.code, set.stderr).toBe(0);
    first.child.kill('SIGKILL');
    await first.exited;
    // no proxy now: the store itself says where the plan was
    const offline = JSON.parse((await cli(['status', '--json', '--control', ctl, '--state', state])).stdout);
    expect(offline).toMatchObject({ phase: 'SHIFTING', readPercent: 25, planStep: 1, direct: true });
    const second = await spawnCli(await args(), 'control API listening');
    try {
      const s = await cli(['status', '--json', '--control', ctl]);
      const status = JSON.parse(s.stdout);
      expect(status).toMatchObject({ phase: 'SHIFTING', readPercent: 25, effectiveReadPercent: 25, planStep: 1, plan: { next: 50 } });
      expect(status.history).toEqual(expect.arrayContaining([
        expect.objectContaining({ what: 'phase', from: 'VERIFY', to: 'SHIFTING' }),
        expect.objectContaining({ what: 'readPercent', from: '10', to: '25', reason: 'operator: step from 10 % (gates held)' }),
        expect.objectContaining({ what: 'planStep', from: '0', to: '1' }),
      ]));
    } finally {
      second.child.kill('SIGKILL');
    }
  });
});
