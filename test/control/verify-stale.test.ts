// A recorded verify pass stops counting when what it compared changes under it:
// capture removed by hand (`cutover capture remove`: writes stop reaching the
// new database) or DDL the proxy let through (allowDdl: the schemas may differ).
// Both kept the pass, so the next SHIFTING routed reads without a new verify.
// Each clearing is one line in status and an audit row saying why.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { sql, type DbPair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';
import { removeCapture } from '../../proxy/capture/pg-capture.ts';
import { installCaptureAt, mirroredPair } from '../mirror/mirrored-pair.ts';
import { startControlledProxy, type ControlledProxy } from './controlled-proxy.ts';

let pair: DbPair;
let cp: ControlledProxy;
const reports = mkdtempSync(path.join(os.tmpdir(), 'cutover-verify-stale-'));
const sides = () => ['--source', pair.legacyUrl, '--target', pair.targetUrl, '--report-dir', reports];
const status = async () => (await cp.api('GET', '/status')).json;

/** A real `cutover verify` through the proxy, passing. */
async function pass(): Promise<void> {
  const v = await cli(['verify', ...sides(), '--control', cp.control]);
  expect(v.code, v.stdout + v.stderr).toBe(0);
  expect(await status()).toMatchObject({ verifiedAt: expect.any(String), verifyResult: expect.stringMatching(/^passed /) });
}

async function mirroring(): Promise<void> {
  for (let i = 0; i < 50 && !cp.live.get().mirroring; i++) await new Promise((r) => setTimeout(r, 100));
  expect(cp.live.get().mirroring).toBe(true);
}

beforeAll(async () => {
  pair = await mirroredPair('control_verify_stale', "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 20) g");
  cp = await startControlledProxy({ source: pair.legacyUrl, target: pair.targetUrl, allowDdl: true });
  await mirroring();
  for (const p of ['PREFLIGHT', 'BACKUP', 'CAPTURE', 'BACKFILL', 'VERIFY']) expect((await cp.api('PUT', '/phase', { phase: p })).status, p).toBe(200);
});
afterAll(async () => {
  await cp?.close();
});

describe('a verify pass is cleared', () => {
  it('by DDL the proxy lets through (allowDdl): SHIFTING is refused, status and the audit log say why', async () => {
    await pass();
    const c = new pg.Client({ connectionString: cp.url(pair.name) });
    await c.connect();
    try {
      await c.query('ALTER TABLE t ADD COLUMN note text');
    } finally {
      await c.end();
    }
    for (let i = 0; i < 50 && (await status()).verifiedAt; i++) await new Promise((r) => setTimeout(r, 100));
    const s = await status();
    expect(s).toMatchObject({ verifiedAt: null, verifyResult: expect.stringMatching(/^stale since .*: DDL let through by the proxy while mirroring \(allowDdl\), so the schemas may differ from what was compared; run cutover verify again$/) });
    expect(s.history).toEqual(expect.arrayContaining([expect.objectContaining({ what: 'verifiedAt', to: null, reason: 'proxy: verify pass cleared by DDL (allowDdl)' })]));
    const api = await cp.api('PUT', '/phase', { phase: 'SHIFTING' });
    expect(api.status).toBe(409);
    expect(api.json.error).toContain('last verify: stale since');
    const line = (await cli(['status', '--control', cp.control])).stdout.split('\n').find((l) => l.startsWith('verify'));
    expect(line).toMatch(/^verify +stale since .*: DDL let through by the proxy while mirroring \(allowDdl\).*; reads to the new database start only once cutover verify passes$/);

    // the operator applies the same DDL to the new database; a new verify counts again
    await sql(pair.targetUrl, 'ALTER TABLE t ADD COLUMN note text');
    await pass();
    // DDL inside a transaction block (split into pieces), and through the extended protocol
    for (const ddl of [{ text: 'BEGIN; ALTER TABLE t ADD COLUMN a int; COMMIT' }, { name: 'ddl', text: 'ALTER TABLE t ADD COLUMN b int' }]) {
      const d = new pg.Client({ connectionString: cp.url(pair.name) });
      await d.connect();
      try {
        await d.query(ddl);
      } finally {
        await d.end();
      }
      for (let i = 0; i < 50 && (await status()).verifiedAt; i++) await new Promise((r) => setTimeout(r, 100));
      expect((await status()).verifyResult, ddl.text).toMatch(/^stale since .*: DDL let through/);
      await sql(pair.targetUrl, `ALTER TABLE t ADD COLUMN ${ddl.name ? 'b' : 'a'} int`);
      await pass();
    }
  });

  it('by cutover capture remove, through the proxy or, with none, in the state store: the next SHIFTING needs a new verify', async () => {
    await pass();
    const removed = await cli(['capture', 'remove', ...sides(), '--control', cp.control, '--state', cp.state]);
    expect(removed.code, removed.stderr).toBe(0);
    // the proxy's drainer may see capture gone before the command's own request: either clears the pass
    expect(removed.stdout).toMatch(/\nverify: stale since .*: capture removed (by cutover capture remove|from the source \(the proxy stopped mirroring\)), so writes no longer reach the other database; run cutover verify again$/m);
    const s = await status();
    expect(s).toMatchObject({ verifiedAt: null, verifyResult: expect.stringContaining('capture removed') });
    expect(s.history).toEqual(expect.arrayContaining([expect.objectContaining({ what: 'verifiedAt', to: null, reason: expect.stringMatching(/^(cutover capture remove: verify pass cleared|proxy: verify pass cleared: capture gone from the source)$/) })]));
    const phase = await cli(['phase', 'SHIFTING', '--control', cp.control]);
    expect(phase.code).toBe(1);
    expect(phase.stderr.trim().split('\n')).toHaveLength(1);
    expect(phase.stderr).toContain('last verify: stale since');

    // no proxy: the state store records it the same way
    await installCaptureAt(pair.legacyUrl);
    await mirroring();
    await pass();
    await cp.close();
    const nobody = `127.0.0.1:${await freePort()}`;
    const direct = await cli(['capture', 'remove', ...sides(), '--control', nobody, '--state', cp.state]);
    expect(direct.code, direct.stderr).toBe(0);
    expect(direct.stdout).toContain('verify: stale since');
    expect(direct.stdout).toContain('capture removed by cutover capture remove');
    const offline = JSON.parse((await cli(['status', '--json', '--control', nobody, '--state', cp.state])).stdout);
    expect(offline).toMatchObject({ direct: true, verifiedAt: null, verifyResult: expect.stringMatching(/^stale since .*: capture removed/) });
    cp = await startControlledProxy({ source: pair.legacyUrl, target: pair.targetUrl, state: cp.state });
  });

  it('by cutover capture install on a table not captured before: its writes until then never reached the new database', async () => {
    // capture was removed above: this pass compared a snapshot
    await pass();
    const installed = await cli(['capture', 'install', '--skip-backup', ...sides(), '--control', cp.control, '--state', cp.state]);
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toMatch(/\nverify: stale since .*: capture newly installed on public\.t, whose writes before it never reached the other database; run cutover verify again$/m);
    const s = await status();
    expect(s).toMatchObject({ verifiedAt: null, verifyResult: expect.stringContaining('capture newly installed on public.t') });
    expect(s.history).toEqual(expect.arrayContaining([expect.objectContaining({ what: 'verifiedAt', to: null, reason: 'cutover capture install: verify pass cleared' })]));
    // installing again adds no table: a new pass stays
    await mirroring();
    await pass();
    const again = await cli(['capture', 'install', '--skip-backup', ...sides(), '--control', cp.control, '--state', cp.state]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('stale');
    expect((await status()).verifiedAt).toEqual(expect.any(String));
  });

  it('by capture dropped on the source behind Cutover\'s back (psql): the proxy sees mirroring stop', async () => {
    await mirroring();
    await pass();
    const c = new pg.Client({ connectionString: pair.legacyUrl });
    await c.connect();
    try {
      await removeCapture(c);
    } finally {
      await c.end();
    }
    for (let i = 0; i < 100 && (await status()).verifiedAt; i++) await new Promise((r) => setTimeout(r, 100));
    const s = await status();
    expect(s).toMatchObject({ mirroring: false, verifiedAt: null, verifyResult: expect.stringMatching(/^stale since .*: capture removed from the source \(the proxy stopped mirroring\), so writes no longer reach the other database; run cutover verify again$/) });
    expect(s.history).toEqual(expect.arrayContaining([expect.objectContaining({ what: 'verifiedAt', to: null, reason: 'proxy: verify pass cleared: capture gone from the source' })]));
    expect((await cp.api('PUT', '/phase', { phase: 'SHIFTING' })).status).toBe(409);
  });
});
