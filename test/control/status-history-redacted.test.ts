// An operator's reason quoting a connection string was kept in the state store
// as typed, and `cutover status` read straight from the store (no proxy
// answering) printed it, password and all. The reason is now stored masked,
// and every command's output is masked as its errors are.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { openStateStore } from '../../control/state/store.ts';
import { setPhase } from '../../control/steer.ts';
import { cli } from '../harness/cli.ts';
import { freePort } from '../harness/postgres.ts';

const SECRET = 'Hist-Pw-4410';

it('a reason with a password: stored masked, and status (text and --json, from the store) shows it masked', async () => {
  const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-hist-')), 'state.db');
  const store = await openStateStore(state);
  await store.change(setPhase('PREFLIGHT', { viaApi: true }), 'operator via API (127.0.0.1)', `checked postgres://app:${SECRET}@db.internal/app`);
  await store.close();
  expect(readFileSync(state).toString('latin1')).not.toContain(SECRET);
  const control = `127.0.0.1:${await freePort()}`;
  const text = await cli(['status', '--control', control, '--state', state]);
  expect(text.code, text.stderr).toBe(0);
  expect(text.stdout).toContain('checked postgres://app:***@db.internal/app');
  const json = await cli(['status', '--json', '--control', control, '--state', state]);
  expect(JSON.parse(json.stdout).history[0].reason).toBe('checked postgres://app:***@db.internal/app');
  expect(text.stdout + text.stderr + json.stdout + json.stderr).not.toContain(SECRET);
});
