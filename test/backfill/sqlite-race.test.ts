// Backfill from an SQLite source while the dual-write proxy serves a
// randomized workload that updates, deletes and inserts the very rows being
// copied: afterwards verify finds the file and PostgreSQL equal, per seed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { copyHistory } from '../../backfill/copy/run-backfill.ts';
import { runVerify } from '../../backfill/verify/run-verify.ts';
import { startSqliteMirror, type SqliteMirror } from '../sqlite/mirror-harness.ts';
import { runSqliteWorkload, SQLITE_WORKLOAD_SCHEMA, SQLITE_WORKLOAD_SEED } from '../sqlite/sqlite-workload.ts';

const SEEDS = [7, 8, 9];
const HISTORY = `
  WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 3000)
  INSERT INTO accounts (email, balance, tag) SELECT 'h' || x || '@x', x / 3.0, 'history' FROM g;
  INSERT INTO notes (account_id, body) SELECT id, 'history note' FROM accounts;`;

describe.each(SEEDS)('SQLite source: backfill under the dual-write workload, seed %i', (seed) => {
  let m: SqliteMirror;
  beforeAll(async () => {
    m = await startSqliteMirror(`sqlite_backfill_race_${seed}`, SQLITE_WORKLOAD_SCHEMA, { history: HISTORY });
    const c = new pg.Client({ connectionString: m.url() });
    await c.connect();
    await c.query(SQLITE_WORKLOAD_SEED);
    await c.end();
  });
  afterAll(async () => {
    await m?.close();
  });

  it('copies history while the same rows change; verify says equal', async () => {
    const load = runSqliteWorkload(m.url(), { seed, clients: 8, ops: 4000 });
    await new Promise((r) => setTimeout(r, 200));
    // after the first seed, big tables are split into key ranges copied at once
    const counts = await copyHistory(m.source, m.targetUrl, { batchSize: 250, ...(seed === SEEDS[0] ? {} : { workers: 3, splitRows: 800 }) });
    const res = await load;
    expect(res.errors).toEqual([]);
    expect(counts['public.accounts']).toBeGreaterThan(1000);
    expect(m.tp.proxy.guard!.stats.applyErrors).toBe(0);
    const report = await runVerify({ source: m.source, target: m.targetUrl });
    for (const t of report.tables) expect(t, t.table).toMatchObject({ equal: true, missing: 0, extra: 0, different: 0 });
  }, 300_000);
});
