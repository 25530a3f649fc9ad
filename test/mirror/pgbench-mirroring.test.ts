// pgbench through the proxy with mirroring on, as a user load-tests it:
// tpcb-like in simple, extended and prepared modes, and a pipelined script
// (\startpipeline … \endpipeline: several Syncs in flight, a transaction
// opened and committed inside one pipeline). No failed transaction, and the
// two databases are equal afterwards.
import { execFile } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { installCaptureAt } from './mirrored-pair.ts';

const run = promisify(execFile);
const TABLES = ['public.pgbench_accounts', 'public.pgbench_branches', 'public.pgbench_tellers', 'public.pgbench_history'];
const env = { ...process.env, PGPASSWORD: 'postgres' };
let pair: DbPair;
let tp: TestProxy;
let pgbench: string;

function processed(out: string): { processed: number; failed: number } {
  return {
    processed: Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? NaN),
    failed: Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

beforeAll(async () => {
  pair = await databasePair('mirror_pgbench');
  pgbench = path.join(inject('legacy').binDir, 'pgbench');
  // the same initial data on both sides (pgbench -i's rows are the same for the same scale)
  for (const url of [pair.legacyUrl, pair.targetUrl]) {
    const u = new URL(url);
    await run(pgbench, ['-i', '-s', '1', '-q', '-h', u.hostname, '-p', u.port, '-U', 'postgres', u.pathname.slice(1)], { env });
    // every replicated table needs a key; pgbench_history has none
    await sql(url, 'ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY');
  }
  await installCaptureAt(pair.legacyUrl);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 50 });
}, 120_000);
afterAll(async () => {
  await tp?.close();
});

const through = (args: string[]) => run(pgbench, [...args, '-h', '127.0.0.1', '-p', String(tp.port), '-U', 'postgres', pair.name], { env });

describe('pgbench through the mirroring proxy', () => {
  it('tpcb-like in simple, extended and prepared modes, and a pipelined script, leave both databases equal', async () => {
    expect(tp.live.get().mirroring).toBe(true);
    for (const mode of ['simple', 'extended', 'prepared']) {
      const r = processed((await through(['-M', mode, '-c', '4', '-j', '2', '-t', '150'])).stdout);
      expect(r, mode).toEqual({ processed: 600, failed: 0 });
    }
    // pipeline mode needs the extended protocol; one pipeline holds a whole transaction and a read after it
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-pgbench-'));
    const script = path.join(dir, 'pipeline.sql');
    writeFileSync(script, [
      '\\set aid random(1, 100000)',
      '\\set tid random(1, 10)',
      '\\set delta random(-5000, 5000)',
      '\\startpipeline',
      'BEGIN;',
      'UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;',
      'UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;',
      'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, 1, :aid, :delta, CURRENT_TIMESTAMP);',
      'END;',
      'SELECT abalance FROM pgbench_accounts WHERE aid = :aid;',
      '\\endpipeline',
      '',
    ].join('\n'));
    for (const mode of ['extended', 'prepared']) {
      const r = processed((await through(['-n', '-M', mode, '-f', script, '-c', '4', '-j', '2', '-t', '150'])).stdout);
      expect(r, `pipeline ${mode}`).toEqual({ processed: 600, failed: 0 });
    }
    await tp.proxy.drainer!.flush();
    const diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, TABLES);
    expect(diffs.filter((d) => !d.equal)).toEqual([]);
    const history = await sql(pair.targetUrl, 'SELECT count(*)::int AS n FROM pgbench_history');
    // each tpcb run (without -n) truncates pgbench_history first, through the proxy too: the last run's and the pipelines' rows
    expect(history.rows[0].n).toBe(600 + 2 * 600);
  }, 180_000);
});
