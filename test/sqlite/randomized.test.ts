// The randomized concurrent workload against an SQLite source, mirrored into
// PostgreSQL; afterwards `cutover verify`'s engine (an independent, row-level,
// bit-exact comparison of the file and the target) must find them equal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import Database from 'better-sqlite3';
import { runVerify } from '../../backfill/verify/run-verify.ts';
import { startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';
import { runSqliteWorkload, SQLITE_WORKLOAD_SCHEMA, SQLITE_WORKLOAD_SEED } from './sqlite-workload.ts';

const SEEDS = (process.env.CUTOVER_SEEDS ?? '11,22,33').split(',').map(Number);
const OPS = Number(process.env.CUTOVER_OPS ?? 20_000);
const CLIENTS = 16;

describe.each(SEEDS)('SQLite source, randomized concurrent workload, seed %i', (seed) => {
  let m: SqliteMirror;
  beforeAll(async () => {
    m = await startSqliteMirror(`sqlite_random_${seed}`, SQLITE_WORKLOAD_SCHEMA, { reads: 30 });
    const c = new pg.Client({ connectionString: m.url() });
    await c.connect();
    await c.query(SQLITE_WORKLOAD_SEED);
    await c.end();
  });
  afterAll(async () => {
    await m?.close();
  });

  it(`${OPS} operations from ${CLIENTS} clients leave the SQLite file and PostgreSQL equal`, async () => {
    const started = Date.now();
    const res = await runSqliteWorkload(m.url(), { seed, clients: CLIENTS, ops: OPS });
    const seconds = (Date.now() - started) / 1000;
    expect(res.errors).toEqual([]);
    expect(res.ops).toBeGreaterThanOrEqual(OPS);
    const guard = m.tp.proxy.guard!.stats;
    // writes reached the mirror before their commit, not later through the drainer
    expect(guard.applies).toBeGreaterThan(OPS / 4);
    expect(guard.applyErrors).toBe(0);
    expect(guard.reads).toBeGreaterThan(0);
    expect(m.tp.live.get().tripped).toBeNull();
    const db = new Database(m.file, { readonly: true });
    const left = Number(db.prepare('SELECT count(*) FROM _cutover_changes').pluck().get());
    const rows = db.prepare('SELECT (SELECT count(*) FROM accounts) AS a, (SELECT count(*) FROM notes) AS n').safeIntegers(false).get() as { a: number; n: number };
    db.close();
    expect(left).toBe(0);
    const report = await runVerify({ source: m.source, target: m.targetUrl });
    console.log(`seed ${seed}: ${res.ops} ops (${res.committed} succeeded) from ${CLIENTS} clients in ${seconds.toFixed(1)} s; ${guard.applies} mirrored transactions, ${guard.reads} routed reads; accounts ${rows.a}, notes ${rows.n}; verify: ${report.tables.map((t) => `${t.table} ${t.sourceRows}/${t.targetRows} ${t.equal ? 'equal' : 'DIFFERENT'}`).join(', ')}`);
    for (const t of report.tables) expect(t, t.table).toMatchObject({ equal: true, missing: 0, extra: 0, different: 0 });
    expect(report.equal).toBe(true);
    expect(rows.a).toBeGreaterThan(100);
  }, 600_000);
});
