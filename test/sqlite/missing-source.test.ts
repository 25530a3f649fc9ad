// `cutover proxy --source sqlite:///path` with no file there made one: a typo
// in the path served the application a new, empty database and took its
// writes. Refused now, as every other command refuses a missing file: one line,
// exit 1, nothing created.
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { freePort } from '../harness/postgres.ts';

it('a proxy whose SQLite source file is not there refuses to start and makes no file', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-missing-src-'));
  const typo = path.join(dir, 'ap.db');
  const r = await cli(['proxy', '--source', `sqlite://${typo}`, '--state', path.join(dir, 'state.db'), '--listen', `127.0.0.1:${await freePort()}`, '--control', `127.0.0.1:${await freePort()}`, '--auth', 'trust'], {}, { timeoutMs: 20_000 });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`cutover: --source: no SQLite database file at ${typo}; check the path`);
  expect(existsSync(typo)).toBe(false);
});
