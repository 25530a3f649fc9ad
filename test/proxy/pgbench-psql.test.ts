import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { databasePair, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from './proxy-harness.ts';

const run = promisify(execFile);
let pair: DbPair;
let tp: TestProxy;
let bin: (tool: string) => string;

beforeAll(async () => {
  pair = await databasePair('proxy_pgbench');
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
  const binDir = inject('legacy').binDir;
  bin = (tool) => path.join(binDir, tool);
});
afterAll(async () => {
  await tp?.close();
});

const env = { ...process.env, PGPASSWORD: 'postgres', PGHOST: '127.0.0.1', PGUSER: 'postgres' };

function parsePgbench(out: string): { processed: number; failed: number; tps: number } {
  const processed = Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? NaN);
  const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? NaN);
  return { processed, failed, tps };
}

describe('pgbench and psql through the proxy', () => {
  it('pgbench -i, then select-only and tpcb-like in simple, extended and prepared modes with no failures', async () => {
    const port = String(tp.port);
    await run(bin('pgbench'), ['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', port, pair.name], { env });
    for (const mode of ['simple', 'extended', 'prepared']) {
      for (const script of [['-S'], []]) {
        const { stdout } = await run(bin('pgbench'), [...script, '-M', mode, '-c', '4', '-j', '2', '-t', '200', '-h', '127.0.0.1', '-p', port, pair.name], { env });
        const r = parsePgbench(stdout);
        expect(r.processed, `${mode} ${script.join('') || 'tpcb'}`).toBe(800);
        expect(r.failed).toBe(0);
      }
    }
  }, 180_000);

  it('psql runs scripts, meta-commands and reports errors with their SQLSTATE', async () => {
    const port = String(tp.port);
    const { stdout } = await run(bin('psql'), ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', port, '-d', pair.name, '-c',
      "CREATE TABLE p (id int PRIMARY KEY, v text); INSERT INTO p VALUES (1, 'one'), (2, 'two');", '-c', 'SELECT string_agg(v, \',\' ORDER BY id) FROM p', '-c', '\\dt'], { env });
    expect(stdout).toContain('one,two');
    expect(stdout).toMatch(/public\|p\|table\|postgres/);
    const err = await run(bin('psql'), ['-X', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-h', '127.0.0.1', '-p', port, '-d', pair.name, '-c', 'SELECT 1/0'], { env }).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('22012');
  });
});
