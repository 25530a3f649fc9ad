// "Every replicated table" for the verify gate: the configured tables and every
// table with change capture on the source. Judged from --tables against the
// configured list alone, a verify of `a` recorded a pass with `b` captured too:
// the proxy mirrors b and would route its reads to a new database nobody compared.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { sql, type DbPair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';
import { mirroredPair } from '../mirror/mirrored-pair.ts';
import { startControlledProxy, type ControlledProxy } from './controlled-proxy.ts';

let pair: DbPair;
let cp: ControlledProxy;
const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-verify-scope-'));
const config = path.join(dir, 'cutover.json');
const sides = () => ['--source', pair.legacyUrl, '--target', pair.targetUrl, '--report-dir', dir, '--config', config];

beforeAll(async () => {
  // capture on both tables (as `cutover capture install` without --tables puts it), the configuration naming only a
  pair = await mirroredPair('control_verify_scope', `
    CREATE TABLE a (id int PRIMARY KEY, v text); INSERT INTO a SELECT g, 'a' || g FROM generate_series(1, 50) g;
    CREATE TABLE b (id int PRIMARY KEY, v text); INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 50) g;`);
  writeFileSync(config, JSON.stringify({ tables: ['a'] }));
  cp = await startControlledProxy({ source: pair.legacyUrl, target: pair.targetUrl });
  for (const p of ['PREFLIGHT', 'BACKUP', 'CAPTURE', 'BACKFILL', 'VERIFY']) expect((await cp.api('PUT', '/phase', { phase: p })).status, p).toBe(200);
});
afterAll(async () => {
  await cp?.close();
});

it('a verify that leaves out a captured table records no pass, through the proxy or the store; one of every captured table does', async () => {
  await sql(pair.targetUrl, "UPDATE b SET v = 'never compared' WHERE id = 3");
  const some = await cli(['verify', ...sides(), '--control', cp.control]);
  expect(some.code, some.stderr).toBe(0);
  expect(some.stdout).toContain('result not recorded: 1 replicated table(s) not compared: b (captured on the source, or in the configured tables)');
  expect((await cp.api('GET', '/status')).json).toMatchObject({ verifiedAt: null, verifyResult: null });
  const api = await cp.api('PUT', '/phase', { phase: 'SHIFTING' });
  expect(api.status).toBe(409);
  expect(api.json.error).toContain('no verify recorded');
  const phase = await cli(['phase', 'SHIFTING', '--control', cp.control]);
  expect(phase.code).toBe(1);
  expect(phase.stderr.trim().split('\n')).toHaveLength(1);

  // no proxy: the same judgement before writing into the state store
  const nobody = `127.0.0.1:${await freePort()}`;
  const direct = await cli(['verify', ...sides(), '--control', nobody, '--state', cp.state]);
  expect(direct.code, direct.stderr).toBe(0);
  expect(direct.stdout).toContain('result not recorded: 1 replicated table(s) not compared: b');
  expect(JSON.parse((await cli(['status', '--json', '--control', nobody, '--state', cp.state])).stdout)).toMatchObject({ verifiedAt: null });

  // naming every captured table compares b, which differs: recorded as such
  const all = await cli(['verify', '--tables', 'a,b', ...sides(), '--control', cp.control]);
  expect(all.code).toBe(1);
  expect((await cp.api('GET', '/status')).json.verifyResult).toMatch(/^FAILED .*: 1 of 2 table\(s\) differ: b$/);
  await sql(pair.targetUrl, "UPDATE b SET v = 'b3' WHERE id = 3");
  const clean = await cli(['verify', '--tables', 'a,b', ...sides(), '--control', cp.control]);
  expect(clean.code, clean.stderr).toBe(0);
  expect((await cp.api('GET', '/status')).json).toMatchObject({ verifiedAt: expect.any(String), verifyResult: expect.stringMatching(/^passed .*: all 2 table\(s\) equal \(100 rows\)$/) });
  expect((await cli(['phase', 'SHIFTING', '--control', cp.control])).code).toBe(0);
});
