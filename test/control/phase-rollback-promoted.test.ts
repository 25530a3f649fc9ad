// After promote, ROLLED_BACK is the swap back (`cutover rollback`): the legacy
// database becomes the source of truth again. `cutover phase ROLLED_BACK`
// (PUT /phase) set the phase alone: the record said ROLLED_BACK while the new
// database stayed the source of truth, and `cutover rollback` then found
// nothing to do (phase already ROLLED_BACK, reads at 0 %).
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { openStateStore } from '../../control/state/store.ts';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';
import { startControlledProxy } from './controlled-proxy.ts';

it('cutover phase ROLLED_BACK while PROMOTED is refused (API 409, CLI exit 1 with one line) and changes nothing', async () => {
  const pair = await databasePair('control_phase_rollback_promoted');
  for (const url of [pair.legacyUrl, pair.targetUrl]) await sql(url, 'CREATE TABLE t (id int PRIMARY KEY)');
  const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-phase-promoted-')), 'state.db');
  const store = await openStateStore(state);
  await store.change(() => ({ phase: 'PROMOTED', sourceOfTruth: 'new', readPercent: 100 }), 'test', 'promoted');
  await store.close();
  const cp = await startControlledProxy({ source: pair.legacyUrl, target: pair.targetUrl, state });
  try {
    const api = await cp.api('PUT', '/phase', { phase: 'ROLLED_BACK' });
    expect(api.status).toBe(409);
    expect(api.json.error).toContain('entered with cutover rollback');
    const phase = await cli(['phase', 'ROLLED_BACK', '--control', cp.control]);
    expect(phase.code).toBe(1);
    expect(phase.stderr.trim().split('\n')).toHaveLength(1);
    expect(phase.stderr).toMatch(/^cutover: control API PUT \/phase: 409 phase ROLLED_BACK from PROMOTED is entered with cutover rollback/);
    expect((await cp.api('GET', '/status')).json).toMatchObject({ phase: 'PROMOTED', sourceOfTruth: 'new' });
  } finally {
    await cp.close();
  }
});
