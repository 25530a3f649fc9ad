// An SQLite state file serves one proxy. A second `cutover proxy` on the same file started and
// served: it saw the first one's changes only at its 2 s re-read, so a promote's pause reached it
// after the flip had removed capture from the legacy database, and it went on writing there
// unmirrored (and cleared the verify pass for capture "gone from the source"). It is now refused at
// start-up with the reason; once the first proxy is gone (kill -9 too) a new one takes the file.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { databasePair, type DbPair } from '../harness/databases.ts';
import { cli, spawnCli, type RunningCli } from '../harness/cli.ts';
import { freePort } from '../harness/postgres.ts';

let pair: DbPair;
const running: RunningCli[] = [];

beforeAll(async () => {
  pair = await databasePair('control_sqlite_state_one_proxy');
});
afterAll(async () => {
  for (const r of running) r.child.kill('SIGKILL');
});

const proxyArgs = async (state: string) => ['proxy', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--listen', `127.0.0.1:${await freePort()}`, '--control', `127.0.0.1:${await freePort()}`, '--state', state];

it('refuses a second proxy on the same state file, and lets a new one in once the first is killed', async () => {
  const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-one-proxy-')), 'state.db');
  const first = await spawnCli(await proxyArgs(state), 'control API listening');
  running.push(first);

  const second = await cli(await proxyArgs(state), {}, { timeoutMs: 30_000 });
  expect(second.code).toBe(1);
  expect(second.stderr.trim().split('\n')).toEqual([
    `cutover: the state store ${state} is in use by another proxy (it holds ${state}.proxy); an SQLite state file serves one proxy: run a fleet with --state redis://host:port/N`,
  ]);
  // the first one is untouched, and the CLI still reads the file
  expect(first.child.exitCode).toBeNull();
  expect((await cli(['status', '--state', state, '--control', '127.0.0.1:1', '--json'])).code).toBe(0);

  first.child.kill('SIGKILL');
  await first.exited;
  const third = await spawnCli(await proxyArgs(state), 'control API listening');
  running.push(third);
  expect(third.child.exitCode).toBeNull();
}, 90_000);
