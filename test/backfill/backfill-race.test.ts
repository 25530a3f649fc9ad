import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { cli } from '../harness/cli.ts';
import { installCaptureAt } from '../mirror/mirrored-pair.ts';
import { copyHistory } from '../../backfill/copy/run-backfill.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { runWorkload, WORKLOAD_SCHEMA, WORKLOAD_TABLES } from '../mirror/workload.ts';
import { compareDatabases } from '../harness/compare.ts';

const SEEDS = [101, 202, 303];

describe.each(SEEDS)('backfill under a concurrent workload, seed %i', (seed) => {
  let pair: DbPair;
  let tp: TestProxy;
  beforeAll(async () => {
    pair = await databasePair(`backfill_race_${seed}`);
    await sql(pair.legacyUrl, WORKLOAD_SCHEMA);
    await sql(pair.targetUrl, WORKLOAD_SCHEMA.replace(/INSERT INTO counters[^;]*;/, ''));
    // history the mirror never sees: written before capture exists
    await sql(pair.legacyUrl, `INSERT INTO accounts (email) SELECT 'h' || g || '@x' FROM generate_series(1, 3000) g;
                               INSERT INTO notes (account_id, body) SELECT id, 'history' FROM accounts;`);
    await installCaptureAt(pair.legacyUrl);
    tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
  });
  afterAll(async () => {
    await tp?.close();
  });

  it('copies history while the same rows are updated, deleted and inserted; verify says equal', async () => {
    const load = runWorkload(tp.url(pair.name), { seed, clients: 8, ops: 6000 });
    await new Promise((r) => setTimeout(r, 300));
    // after the first seed, big tables are split into key ranges copied at once
    const counts = await copyHistory(pair.legacyUrl, pair.targetUrl, { batchSize: 250, ...(seed === SEEDS[0] ? {} : { workers: 3, splitRows: 800 }) });
    expect(counts['public.accounts']).toBeGreaterThan(2000);
    const res = await load;
    expect(res.errors).toEqual([]);
    await tp.proxy.drainer!.drainOnce();
    const diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, WORKLOAD_TABLES);
    for (const d of diffs) expect(d, d.table).toMatchObject({ equal: true });
    const v = await cli(['verify', '--source', pair.legacyUrl, '--target', pair.targetUrl]);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('all 3 table(s) equal');
  }, 120_000);
});

describe('verify on the command line', () => {
  it('exits 1 naming the table that differs', async () => {
    const pair = await databasePair('backfill_verify_cli');
    await sql(pair.legacyUrl, 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, \'a\'), (2, \'b\')');
    await sql(pair.targetUrl, 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, \'a\'), (2, \'changed\')');
    const v = await cli(['verify', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--json']);
    expect(v.code).toBe(1);
    expect(JSON.parse(v.stdout)).toMatchObject({ equal: false, tables: [{ table: 't', equal: false, different: 1, differences: [{ kind: 'different', key: ['2'], columns: ['v'] }] }] });
  });
});
