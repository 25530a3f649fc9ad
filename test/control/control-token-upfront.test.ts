// `cutover proxy --control 0.0.0.0:…` without a token is refused: the refusal
// came once the control API started, after the state store was opened (a
// state file made) and the listener had served, with two log lines before the
// reason. It is now checked first: one line, exit 1, nothing created.
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { freePort } from '../harness/postgres.ts';

it('a non-loopback --control without a token: one line, exit 1, no state file', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-token-'));
  const file = path.join(dir, 'app.db');
  new Database(file).exec('CREATE TABLE t (id INTEGER PRIMARY KEY)').close();
  const state = path.join(dir, 'state.db');
  const control = `0.0.0.0:${await freePort()}`;
  const r = await cli(['proxy', '--source', `sqlite://${file}`, '--listen', `127.0.0.1:${await freePort()}`, '--control', control, '--state', state], { CUTOVER_TOKEN: '', CUTOVER_LOG_JSON: '1' }, { timeoutMs: 60_000 });
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`cutover: refusing to serve the control API on ${control} without a token: set CUTOVER_TOKEN\n`);
  expect(existsSync(state)).toBe(false);
});
