// Invariant 3's gate: reads go to the new database only after a verify of every
// table passed since the copy last started. Refused without one (CLI exit 1 with
// one line, API 409 naming `cutover verify`), recorded by `cutover verify`
// through the proxy or into the state file, kept across a restart, taken back by
// a verify that finds differences and by a copy that starts over; --force is
// the audited way past it.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeSwap } from '../../control/promote/mutations.ts';
import { applyMutation, initialRecord, type ControlRecord } from '../../control/state/store.ts';
import { setPhase, setReads, step } from '../../control/steer.ts';
import { recordVerify } from '../../control/verify-gate.ts';
import { cli } from '../harness/cli.ts';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';
import { startControlledProxy, type ControlledProxy } from './controlled-proxy.ts';

const rec = (patch: Partial<ControlRecord>): ControlRecord => ({ ...initialRecord(), ...patch });
const STEPS = [10, 25, 50, 75, 90, 100];
const PASSED = { verifiedAt: '2026-01-01T00:00:00.000Z', verifyResult: 'passed 2026-01-01T00:00:00.000Z: all 1 table(s) equal' };

describe('the gate in the state record', () => {
  it('every way into SHIFTING is refused (409) without a pass, from VERIFY and from ROLLED_BACK alike', () => {
    for (const phase of ['VERIFY', 'ROLLED_BACK'] as const) {
      for (const move of [setPhase('SHIFTING'), setReads(STEPS, 10), step(STEPS)]) {
        expect(() => move(rec({ phase })), phase).toThrow(expect.objectContaining({ status: 409, message: expect.stringContaining('run cutover verify first') }));
      }
      expect(setPhase('SHIFTING')(rec({ phase, ...PASSED }))).toMatchObject({ phase: 'SHIFTING' });
      expect(step(STEPS)(rec({ phase, ...PASSED }))).toMatchObject({ phase: 'SHIFTING', readPercent: 10 });
    }
    // already shifting (or promoted): the gate was passed on the way in; reads 0 never needs one
    expect(setReads(STEPS, 50)(rec({ phase: 'SHIFTING', readPercent: 10 }))).toMatchObject({ readPercent: 50 });
    expect(setReads(STEPS, 0)(rec({ phase: 'VERIFY' }))).toMatchObject({ readPercent: 0 });
  });

  it('a failing verify takes the pass back, and trips reads already going to the new database', () => {
    expect(recordVerify({ passed: false, summary: '1 of 2 table(s) differ: t' })(rec({ phase: 'VERIFY', ...PASSED }))).toMatchObject({ verifiedAt: null, verifyResult: expect.stringMatching(/^FAILED .*: 1 of 2 table\(s\) differ: t$/) });
    expect(recordVerify({ passed: false, summary: 'x' })(rec({ phase: 'SHIFTING', readPercent: 50, ...PASSED }))).toMatchObject({ tripped: 'verify found differences: x' });
    expect(recordVerify({ passed: false, summary: 'x' })(rec({ phase: 'VERIFY' }))).not.toHaveProperty('tripped');
  });

  it('a copy that starts over makes the pass stale; a rollback after promote needs none', () => {
    for (const to of ['BACKFILL', 'CAPTURE', 'NOT_STARTED'] as const) {
      const from = to === 'BACKFILL' ? 'VERIFY' : to === 'CAPTURE' ? 'ROLLED_BACK' : 'FAILED';
      expect(setPhase(to)(rec({ phase: from, ...PASSED })), to).toMatchObject({ verifiedAt: null, verifyResult: expect.stringMatching(new RegExp(`^stale since .*: phase ${to}`)) });
    }
    // entering VERIFY keeps it: `cutover run` enters VERIFY before it verifies
    expect(setPhase('VERIFY')(rec({ phase: 'BACKFILL', ...PASSED }))).not.toHaveProperty('verifiedAt');
    const back = completeSwap('rollback', 'legacy')(rec({ phase: 'PROMOTED', sourceOfTruth: 'new', paused: true }));
    expect(back).toMatchObject({ phase: 'ROLLED_BACK', verifiedAt: expect.any(String), verifyResult: expect.stringContaining('source of truth until the rollback after promote') });
  });

  it('--force goes past it with an audit row saying so', () => {
    const r = applyMutation(rec({ phase: 'VERIFY' }), setPhase('SHIFTING', { force: true }), 'me', 'operator: phase SHIFTING (force)')!;
    expect(r.after.phase).toBe('SHIFTING');
    expect(r.audit).toEqual(expect.arrayContaining([expect.objectContaining({ what: 'verifyResult', to: expect.stringContaining('without a passing verify'), reason: 'operator: phase SHIFTING (force)' })]));
  });
});

describe('the gate on a running proxy', () => {
  let pair: DbPair;
  let cp: ControlledProxy;
  const reports = mkdtempSync(path.join(os.tmpdir(), 'cutover-gate-'));
  const sides = () => ['--source', pair.legacyUrl, '--target', pair.targetUrl, '--report-dir', reports];
  const steer = (args: string[]) => cli([...args, '--control', cp.control]);
  const status = async () => (await cp.api('GET', '/status')).json;
  const walk = async (phases: string[]) => {
    for (const p of phases) expect((await cp.api('PUT', '/phase', { phase: p })).status, p).toBe(200);
  };

  beforeAll(async () => {
    pair = await databasePair('control_verify_gate');
    const schema = 'CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)';
    await sql(pair.legacyUrl, `${schema}; INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 200) g`);
    await sql(pair.targetUrl, `${schema}; INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 200) g`);
    cp = await startControlledProxy({ source: pair.legacyUrl, target: pair.targetUrl });
  });
  afterAll(async () => {
    await cp?.close();
  });

  it('refuses SHIFTING without a verify: CLI exit 1 with one line, API 409, both naming cutover verify', async () => {
    await walk(['PREFLIGHT', 'BACKUP', 'CAPTURE', 'BACKFILL', 'VERIFY']);
    const phase = await steer(['phase', 'SHIFTING']);
    expect(phase.code).toBe(1);
    expect(phase.stderr.trim().split('\n')).toHaveLength(1);
    expect(phase.stderr).toMatch(/^cutover: control API PUT \/phase: 409 phase SHIFTING: reads to the new database need a passing verify of every replicated table \(no verify recorded\); run cutover verify first/);
    const reads = await steer(['reads', '10']);
    expect(reads.code).toBe(1);
    expect(reads.stderr).toContain('run cutover verify first');
    for (const [method, p, body] of [['PUT', '/phase', { phase: 'SHIFTING' }], ['PUT', '/reads', { percent: 10 }], ['POST', '/step', undefined]] as const) {
      const r = await cp.api(method, p, body);
      expect(r.status, p).toBe(409);
      expect(r.json.error, p).toContain('cutover verify');
    }
    expect(await status()).toMatchObject({ phase: 'VERIFY', readPercent: 0, verifiedAt: null, verifyResult: null });
    expect((await steer(['status'])).stdout).toMatch(/verify +none recorded; reads to the new database start only once cutover verify passes/);
  });

  it('a verify with differences is recorded as such; a subset records no pass; a full clean verify does, in status and the audit log', async () => {
    await sql(pair.targetUrl, "UPDATE t SET v = 'changed' WHERE id = 7");
    const bad = await steer(['verify', ...sides()]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`result recorded in the proxy at ${cp.control}; reads cannot start until a verify passes`);
    expect(await status()).toMatchObject({ verifiedAt: null, verifyResult: expect.stringMatching(/^FAILED .*: 1 of 1 table\(s\) differ: t$/) });
    expect((await cp.api('PUT', '/phase', { phase: 'SHIFTING' })).json.error).toContain('last verify: FAILED');

    await sql(pair.targetUrl, "UPDATE t SET v = 'v7' WHERE id = 7");
    // a subset: u, a table of the source too, is left out
    for (const url of [pair.legacyUrl, pair.targetUrl]) await sql(url, 'CREATE TABLE u (id int PRIMARY KEY)');
    const subset = await steer(['verify', '--tables', 't', ...sides()]);
    for (const url of [pair.legacyUrl, pair.targetUrl]) await sql(url, 'DROP TABLE u');
    expect(subset.code, subset.stderr).toBe(0);
    expect(subset.stdout).toContain('result not recorded: 1 replicated table(s) not compared: u');
    expect((await status()).verifiedAt).toBeNull();

    const good = await steer(['verify', '--json', ...sides()]);
    expect(good.code, good.stderr).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ equal: true, recorded: true });
    const s = await status();
    expect(s.verifiedAt).toEqual(expect.any(String));
    expect(s.verifyResult).toMatch(/^passed .*: all 1 table\(s\) equal \(200 rows\)$/);
    expect(s.history).toEqual(expect.arrayContaining([expect.objectContaining({ what: 'verifiedAt', from: null, to: s.verifiedAt, reason: 'cutover verify: passed' })]));
    expect((await steer(['status'])).stdout).toMatch(/verify +passed .*: all 1 table\(s\) equal \(200 rows\)\n/);
  });

  it('the pass survives a restart (state file) and is read by the CLI from the store when no proxy runs', async () => {
    const before = await status();
    await cp.close();
    const offline = await cli(['status', '--json', '--control', `127.0.0.1:${await freePort()}`, '--state', cp.state]);
    expect(JSON.parse(offline.stdout)).toMatchObject({ direct: true, phase: 'VERIFY', verifiedAt: before.verifiedAt, verifyResult: before.verifyResult });
    cp = await startControlledProxy({ source: pair.legacyUrl, target: pair.targetUrl, state: cp.state });
    expect(await status()).toMatchObject({ phase: 'VERIFY', verifiedAt: before.verifiedAt });
  });

  it('going back to BACKFILL makes the pass stale: SHIFTING is refused again until the next verify', async () => {
    await walk(['BACKFILL']);
    expect(await status()).toMatchObject({ verifiedAt: null, verifyResult: expect.stringMatching(/^stale since .*: phase BACKFILL/) });
    await walk(['VERIFY']);
    expect((await cp.api('PUT', '/phase', { phase: 'SHIFTING' })).status).toBe(409);
    expect((await steer(['verify', ...sides()])).code).toBe(0);
    const shifted = await steer(['phase', 'SHIFTING']);
    expect(shifted.code, shifted.stderr).toBe(0);
    expect(await status()).toMatchObject({ phase: 'SHIFTING' });
  });

  it('a verify that finds differences while reads go to the new database trips them back at once', async () => {
    expect((await steer(['reads', '50'])).code).toBe(0);
    await sql(pair.targetUrl, 'DELETE FROM t WHERE id = 9');
    try {
      expect((await steer(['verify', ...sides()])).code).toBe(1);
      expect(await status()).toMatchObject({ effectiveReadPercent: 0, verifiedAt: null, tripped: expect.stringMatching(/^verify found differences: 1 of 1 table\(s\) differ: t/) });
      // and the gate watcher rolls back, as after any trip
      for (let i = 0; i < 50 && (await status()).phase !== 'ROLLED_BACK'; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await status()).toMatchObject({ phase: 'ROLLED_BACK', readPercent: 0 });
      expect((await steer(['reads', '0'])).code).toBe(0); // clears the trip
    } finally {
      await sql(pair.targetUrl, "INSERT INTO t VALUES (9, 'v9')");
    }
  });

  it('--force enters SHIFTING without a pass, audited as "without a passing verify"', async () => {
    await walk(['CAPTURE', 'ROLLED_BACK']); // the copy started over, then stopped
    // CAPTURE → ROLLED_BACK → SHIFTING skipped backfill and verify: no longer; `cutover run` verifies first
    const plan = await steer(['run', '--dry-run']);
    expect(plan.stdout).toMatch(/backfill +BACKFILL +done/);
    expect(plan.stdout).toMatch(/verify +VERIFY +run/);
    const skipped = await steer(['phase', 'SHIFTING']);
    expect(skipped.code).toBe(1);
    expect(skipped.stderr).toContain('409 phase SHIFTING: reads to the new database need a passing verify');
    const forced = await steer(['phase', 'SHIFTING', '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    const s = JSON.parse(forced.stdout);
    expect(s).toMatchObject({ phase: 'SHIFTING', verifiedAt: null, verifyResult: expect.stringMatching(/^overridden .*: phase SHIFTING --force sent reads to the new database without a passing verify/) });
    expect(s.history).toEqual(expect.arrayContaining([
      expect.objectContaining({ what: 'phase', from: 'ROLLED_BACK', to: 'SHIFTING', reason: 'operator: phase SHIFTING (force)' }),
      expect.objectContaining({ what: 'verifyResult', to: expect.stringContaining('without a passing verify'), reason: 'operator: phase SHIFTING (force)' }),
    ]));
  });

  it('without a proxy, verify records into the state store and `reads` applies the same gate there', async () => {
    await walk(['ROLLED_BACK', 'CAPTURE', 'ROLLED_BACK']);
    await cp.close();
    const nobody = `127.0.0.1:${await freePort()}`;
    const refused = await cli(['reads', '10', '--control', nobody, '--state', cp.state]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^cutover: reads 10: reads to the new database need a passing verify .*run cutover verify first/);
    const v = await cli(['verify', ...sides(), '--control', nobody, '--state', cp.state]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain(`result recorded in the state store ${cp.state} (no proxy answered)`);
    const reads = await cli(['reads', '10', '--json', '--control', nobody, '--state', cp.state]);
    expect(reads.code, reads.stderr).toBe(0);
    expect(JSON.parse(reads.stdout)).toMatchObject({ direct: true, phase: 'SHIFTING', readPercent: 10 });
    cp = await startControlledProxy({ source: pair.legacyUrl, target: pair.targetUrl, state: cp.state });
  });
});

describe('verify --repair after promote', () => {
  it('is refused while the new database is the source of truth: it would rewrite it from the legacy copy', async () => {
    const { openStateStore } = await import('../../control/state/store.ts');
    const pair = await databasePair('control_verify_repair_promoted');
    const schema = 'CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)';
    await sql(pair.legacyUrl, `${schema}; INSERT INTO t VALUES (1, 'old')`);
    // written on the new database since promote, not yet mirrored back
    await sql(pair.targetUrl, `${schema}; INSERT INTO t VALUES (1, 'new')`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-repair-'));
    const state = path.join(dir, 'state.db');
    const store = await openStateStore(state, { initialReads: 0 });
    await store.change(() => ({ phase: 'PROMOTED', sourceOfTruth: 'new' }), 'test', 'promoted');
    await store.close();
    const args = ['--source', pair.legacyUrl, '--target', pair.targetUrl, '--control', `127.0.0.1:${await freePort()}`, '--state', state, '--report-dir', dir];
    const repair = await cli(['verify', '--repair', ...args]);
    expect(repair.code).toBe(1);
    expect(repair.stderr.trim().split('\n')).toHaveLength(1);
    expect(repair.stderr).toMatch(/^cutover: verify: --repair refused: the new database \(--target\) has been the source of truth since promote/);
    expect((await sql(pair.targetUrl, 'SELECT v FROM t')).rows).toEqual([{ v: 'new' }]);
    // comparing is still allowed, and changes nothing
    const compare = await cli(['verify', ...args]);
    expect(compare.code).toBe(1);
    expect((await sql(pair.targetUrl, 'SELECT v FROM t')).rows).toEqual([{ v: 'new' }]);
  });
});
