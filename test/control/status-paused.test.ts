// `cutover status` while a promote's pause is set. A pause no proxy carries
// out (its proxy died half-way) holds every new transaction of the application
// until `cutover resume`: status exits 1 saying so, where it exited 0. A pause
// that may still be in progress (this proxy runs the swap, or one of a fleet
// may, within its window) is a warning, 2. And `cutover promote` whose proxy
// dies mid-request says to check status and run resume, not "no proxy answers".
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, spawnCli } from '../harness/cli.ts';
import { databasePair, type DbPair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';
import { openStateStore } from '../../control/state/store.ts';
import { startControlledProxy, type ControlledProxy } from './controlled-proxy.ts';

const RESUME_LINE = 'cutover: PAUSED and no proxy is carrying out the promote, rollback or finalize that set it: new transactions wait; run cutover resume\n';

/** The pause a promote sets, as a proxy that then died left it. */
async function pauseAsDeadProxy(state: string): Promise<void> {
  const store = await openStateStore(state);
  try {
    await store.change(() => ({ paused: true }), 'proxy that died', 'promote: pause new transactions (at most 10 s)');
  } finally {
    await store.close();
  }
}

/** Moves the audit rows that set the pause an hour back: past any promote's window. */
function ageThePause(state: string): void {
  const db = new Database(state);
  try {
    db.prepare(`UPDATE control_audit SET at = ? WHERE what = 'paused'`).run(new Date(Date.now() - 3_600_000).toISOString());
  } finally {
    db.close();
  }
}

describe('status with no proxy answering (the state store read directly)', () => {
  it('0 without a pause, 2 with a recent one, 1 naming cutover resume once nobody can be carrying it out', async () => {
    const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-paused-')), 'state.db');
    await (await openStateStore(state)).close();
    const args = ['status', '--state', state, '--control', `127.0.0.1:${await freePort()}`];
    const calm = await cli(args);
    expect(calm.code, calm.stderr).toBe(0);

    await pauseAsDeadProxy(state);
    const recent = await cli(args);
    expect(recent.code, recent.stderr).toBe(2);
    expect(recent.stdout).toMatch(/PAUSED since \S+: new transactions wait; a promote, rollback or finalize may still be running on another proxy/);

    ageThePause(state);
    const stuck = await cli(args);
    expect(stuck.code).toBe(1);
    expect(stuck.stderr).toBe(RESUME_LINE);
    expect(stuck.stdout).toMatch(/PAUSED since \S+: no proxy is carrying out the promote, rollback or finalize that set it .*until cutover resume/);
    const json = await cli([...args, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).pause).toMatchObject({ stale: true, swappingHere: false });
  });
});

describe('status through a running proxy', () => {
  let pair: DbPair;
  let cp: ControlledProxy;
  beforeAll(async () => {
    pair = await databasePair('status_paused');
    cp = await startControlledProxy({ source: pair.legacyUrl, target: pair.targetUrl });
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('a pause this proxy is not running: 2 while a promote may still run elsewhere, 1 once stale', async () => {
    await pauseAsDeadProxy(cp.state);
    for (let i = 0; i < 60 && !cp.live.get().paused; i++) await new Promise((r) => setTimeout(r, 100));
    const args = ['status', '--control', cp.control, '--state', cp.state];
    const recent = await cli(args);
    expect(recent.code, recent.stderr).toBe(2);
    ageThePause(cp.state);
    const stuck = await cli(args);
    expect(stuck.code).toBe(1);
    expect(stuck.stderr).toBe(RESUME_LINE);
    expect(stuck.stdout).not.toContain('no proxy answered');
  });
});

describe('promote whose proxy dies mid-request', () => {
  it('says the promote may have stopped half-way and to run cutover resume (exit 1)', async () => {
    // a control API that takes the request and dies before answering, as a proxy killed mid-flip
    const server = http.createServer((req) => req.socket.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const control = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await cli(['promote', '--control', control]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^cutover: the proxy at --control ${control} stopped answering during POST /promote \\(.+\\); it may have stopped half-way with new transactions paused: if cutover status says PAUSED, run cutover resume \\(roles unchanged\\)\\n$`));
      // a rollback the proxy may have acted on is not done a second time on the store behind its back
      const rb = await cli(['rollback', '--control', control, '--state', path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-paused-')), 'none.db')]);
      expect(rb.code).toBe(1);
      expect(rb.stderr).toMatch(/stopped answering during POST \/rollback/);
    } finally {
      server.close();
    }
  });
});

describe('a proxy restarted after its promote died', () => {
  it('warns at start that new transactions are paused and cutover resume lifts it', async () => {
    const pair = await databasePair('status_paused_restart');
    const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-paused-')), 'state.db');
    await (await openStateStore(state)).close();
    await pauseAsDeadProxy(state);
    const args = ['proxy', '--source', pair.legacyUrl, '--state', state, '--listen', `127.0.0.1:${await freePort()}`, '--control', `127.0.0.1:${await freePort()}`];
    const { child, log, exited } = await spawnCli(args, 'control API listening');
    try {
      const warning = log().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.level === 40 && /paused/.test(l.msg));
      expect(warning?.msg).toBe('new transactions are paused by a promote, rollback or finalize: unless another proxy is running it, cutover status says PAUSED and cutover resume lifts the pause (roles unchanged)');
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
