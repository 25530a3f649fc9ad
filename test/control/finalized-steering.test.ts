// Steering a FINALIZED migration: a refused rollback still logged "reads rolled
// back to the source", and `reads 50` said to finish the backfill.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openStateStore } from '../../control/state/store.ts';
import { cli, spawnCli, type RunningCli } from '../harness/cli.ts';
import { databasePair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';

let proxy: RunningCli;
let control: string;

beforeAll(async () => {
  const pair = await databasePair('finalized_steering');
  // a migration already over: the record as finalize leaves it
  const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-final-')), 'state.db');
  const store = await openStateStore(state);
  await store.change(() => ({ phase: 'FINALIZED', sourceOfTruth: 'new', readPercent: 0, planStep: -1 }), 'test', 'finalized');
  await store.close();
  control = `127.0.0.1:${await freePort()}`;
  proxy = await spawnCli(['proxy', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--listen', `127.0.0.1:${await freePort()}`, '--control', control, '--state', state], 'control API listening');
});
afterAll(() => {
  proxy?.child.kill('SIGKILL');
});

it('in FINALIZED a rollback is refused without logging one', async () => {
  const rb = await cli(['rollback', '--control', control]);
  expect(rb.code).toBe(1);
  expect(rb.stderr).toBe('cutover: control API POST /rollback: 409 rollback: the migration is FINALIZED; nothing to roll back to\n');
  expect(proxy.log()).not.toContain('reads rolled back');
});

it('in FINALIZED reads are refused saying why, not "finish backfill"', async () => {
  const reads = await cli(['reads', '50', '--control', control]);
  expect(reads.code).toBe(1);
  expect(reads.stderr).toContain('phase is FINALIZED: every read already goes to the new database, the only one left');
  expect(reads.stderr).not.toContain('finish backfill');
});
