// An SQLite legacy file through promote and back: capture in the file and
// history backfilled, writers through the proxy all along (every type the
// reverse apply converts: 64-bit integers past 2^53, REAL, numeric, boolean,
// BLOB, unicode text, timestamps; upserts and deletes), promote (PostgreSQL
// the source of truth, every change applied into the file before its commit),
// more writes, rollback into SQLite, more writes. Then verify's bit-exact
// comparison finds the file and PostgreSQL equal, and every write a client got
// an acknowledgement for is on both sides. Promote is refused when the
// reverse apply into the file cannot work.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import Database from 'better-sqlite3';
import { recreateDatabase } from '../../common/local-postgres.ts';
import { applyPostCopy, applySchema } from '../../backfill/schema/apply.ts';
import { readSourceSchema } from '../../backfill/schema/read-source.ts';
import { runBackfill } from '../../backfill/copy/run-backfill.ts';
import { runVerify } from '../../backfill/verify/run-verify.ts';
import { installSqliteCapture } from '../../proxy/capture/sqlite-capture.ts';
import { sql } from '../harness/databases.ts';
import { startControlledProxy, walkToFullReads, type ControlledProxy } from '../control/controlled-proxy.ts';
import { goOnAfter } from '../harness/write-loop.ts';

const SCHEMA = `
  CREATE TABLE ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT, writer INTEGER NOT NULL, n INTEGER NOT NULL,
    big INTEGER, f REAL, amt NUMERIC(12,2), ok BOOLEAN, body BLOB, note TEXT, at TIMESTAMP);
  CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL);`;
const HISTORY = `
  WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 300)
  INSERT INTO ledger (writer, n, big, f, amt, ok, body, note, at)
    SELECT -9, i, 9007199254740993 + i, i / 7.0, i + 0.25, i % 2, randomblob(i % 40), 'histoire ✓ ' || i, '2024-01-02 03:04:05.678' FROM s;
  INSERT INTO kv VALUES ('h1', 1), ('h2', 2);`;

let dir: string;
let file: string;
let source: string;
let targetUrl: string;
let cp: ControlledProxy;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cutover-sqlrev-'));
  file = path.join(dir, 'app.db');
  source = `sqlite://${file}`;
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA);
  db.exec(HISTORY);
  const target = inject('target');
  await recreateDatabase(target.url, 'sqlite_promote');
  const u = new URL(target.url);
  u.pathname = '/sqlite_promote';
  targetUrl = u.toString();
  const plan = await readSourceSchema(source);
  await applySchema(targetUrl, plan);
  await installSqliteCapture(db);
  db.close();
  // reads from the in-process file against PostgreSQL over TCP measure the transport, not the database: on a
  // loaded machine the p99 gate would roll the plan back before the promote this test is about
  cp = await startControlledProxy({ source, target: targetUrl, users: [{ name: 'postgres', password: 'postgres' }], maxLatencyRatio: 1000 });
  for (let i = 0; i < 50 && !cp.live.get().mirroring; i++) await new Promise((r) => setTimeout(r, 100));
  await runBackfill({ source, target: targetUrl, state: path.join(dir, 'backfill.db'), batchSize: 100, workers: 1, maxRate: 0, retryAttempts: 3, resume: false });
  await applyPostCopy(targetUrl, plan);
  await walkToFullReads(cp);
}, 120_000);
afterAll(async () => {
  await cp?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Writers until told to stop: typed ledger inserts (autocommit and two-row transactions), kv upserts and deletes; acknowledged ledger ids kept. */
function writers(url: string, clients: number) {
  const acked: string[] = [];
  const errors: string[] = [];
  let stop = false;
  const insert = 'INSERT INTO ledger (writer, n, big, f, amt, ok, body, note, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now()) RETURNING id';
  const args = (w: number, n: number) => [w, n, (2n ** 60n + BigInt(n)).toString(), Math.PI * n, `${n % 1000}.25`, n % 3 === 0, Buffer.from([n % 256, 0, 255, w]), `écrit ${w}/${n} 🚀`];
  const done = Promise.all(Array.from({ length: clients }, async (_, w) => {
    const c = new pg.Client({ connectionString: url });
    c.on('error', (e) => errors.push(`connection: ${e.message}`));
    await c.connect();
    for (let n = 0; !stop; n++) {
      try {
        if (n % 3 === 0) {
          acked.push((await c.query(insert, args(w, n))).rows[0].id);
        } else if (n % 3 === 1) {
          await c.query('BEGIN');
          const a = (await c.query(insert, args(w, n))).rows[0].id;
          await c.query('INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v', [`w${w}-${n % 7}`, n]);
          const b = (await c.query(insert, args(w, -n))).rows[0].id;
          await c.query('COMMIT');
          acked.push(a, b);
        } else {
          await c.query('DELETE FROM kv WHERE k = $1', [`w${w}-${(n + 3) % 7}`]);
        }
      } catch (e) {
        errors.push(`${(e as { code?: string }).code}: ${(e as Error).message}`);
        if (!(await goOnAfter(e))) break;
        await c.query('ROLLBACK').catch(() => undefined);
      }
    }
    await c.end().catch(() => undefined);
  }));
  return { acked, errors, stop: async () => { stop = true; await done; } };
}

function fileHasCapture(): boolean {
  const db = new Database(file, { readonly: true });
  try {
    return Boolean(db.prepare(`SELECT 1 FROM sqlite_master WHERE name = '_cutover_changes'`).get());
  } finally {
    db.close();
  }
}

async function pgHasCapture(): Promise<boolean> {
  return (await sql(targetUrl, `SELECT to_regnamespace('cutover') IS NOT NULL AS x`)).rows[0].x;
}

function missingInFile(ids: string[]): number {
  const db = new Database(file, { readonly: true });
  try {
    const have = new Set((db.prepare('SELECT id FROM ledger').pluck().all() as number[]).map(String));
    return ids.filter((id) => !have.has(String(id))).length;
  } finally {
    db.close();
  }
}

async function missingInPg(ids: string[]): Promise<number> {
  const r = await sql(targetUrl, 'SELECT count(*)::int AS n FROM ledger WHERE id = ANY ($1::bigint[])', [ids]);
  return ids.length - r.rows[0].n;
}

describe('SQLite legacy side: promote and rollback', () => {
  it('promote is refused when the reverse apply into the file cannot work (a table the file lacks), roles unchanged', async () => {
    await sql(targetUrl, 'CREATE TABLE only_new (id bigint PRIMARY KEY)');
    try {
      const r = await cp.api('POST', '/promote');
      expect(r.status).toBe(409);
      expect(r.json.error).toMatch(/^promote refused: the reverse mirror \(new → legacy\) does not work: .*only_new.*SQLite file/);
      expect(cp.live.get()).toMatchObject({ sourceOfTruth: 'legacy', paused: false, phase: 'SHIFTING' });
      expect(fileHasCapture()).toBe(true);
      expect(await pgHasCapture()).toBe(false);
    } finally {
      await sql(targetUrl, 'DROP TABLE only_new');
    }
  });

  it('under writes: promote, more writes, rollback into SQLite, more writes: verify equal, every acknowledged write on both sides', async () => {
    const url = cp.url('app');
    const w = writers(url, 4);
    await new Promise((r) => setTimeout(r, 800));

    const promoted = await cp.api('POST', '/promote');
    const history = promoted.status === 200 ? '' : JSON.stringify((await cp.api('GET', '/status')).json.history);
    expect(promoted.status, JSON.stringify(promoted.json) + history).toBe(200);
    expect(promoted.json).toMatchObject({ phase: 'PROMOTED', sourceOfTruth: 'new', promote: { kind: 'promote' } });
    const p = promoted.json.promote;
    console.log(`SQLite promote: new transactions paused ${p.pausedMs} ms (drain ${p.drainMs} ms, flip ${p.flipMs} ms, ${p.sequencesAligned} sequence(s) aligned, capture on ${p.captureTables} table(s))`);
    expect(fileHasCapture()).toBe(false);
    expect(await pgHasCapture()).toBe(true);
    const atPromote = w.acked.length;

    // writes on PostgreSQL now, each applied into the file before its commit
    await new Promise((r) => setTimeout(r, 1500));
    expect(w.acked.length).toBeGreaterThan(atPromote);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const after = (await c.query(`INSERT INTO ledger (writer, n, big, f, ok, body, note, at) VALUES (-5, 1, 9223372036854775807, 0.1, true, '\\x'::bytea, '', now()) RETURNING id`)).rows[0].id;
    const db = new Database(file, { readonly: true });
    const row = db.prepare('SELECT big, typeof(big) AS tb, f, ok, typeof(body) AS tbody, length(body) AS lbody, at FROM ledger WHERE id = ?').safeIntegers(true).get(BigInt(after)) as Record<string, unknown>;
    db.close();
    expect(row).toMatchObject({ big: 9223372036854775807n, tb: 'integer', f: 0.1, ok: 1n, tbody: 'blob', lbody: 0n });
    expect(String(row.at)).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$/);
    const applies = cp.proxy.sides!.of('new').guard.stats;
    expect(applies.applies).toBeGreaterThan(0);
    expect(applies.applyErrors).toBe(0);

    const rolled = await cp.api('POST', '/rollback', { reason: 'test: back into SQLite' });
    expect(rolled.status, JSON.stringify(rolled.json)).toBe(200);
    expect(rolled.json).toMatchObject({ phase: 'ROLLED_BACK', sourceOfTruth: 'legacy' });
    console.log(`SQLite rollback after promote: new transactions paused ${rolled.json.rollback.pausedMs} ms`);
    expect(fileHasCapture()).toBe(true);
    expect(await pgHasCapture()).toBe(false);

    // the session opened on PostgreSQL after promote writes into the file again
    const back = (await c.query(`INSERT INTO ledger (writer, n, note, at) VALUES (-5, 2, 'back', now()) RETURNING id`)).rows[0].id;
    await c.end();
    const atRollback = w.acked.length;
    await new Promise((r) => setTimeout(r, 1500));
    await w.stop();
    expect(w.acked.length).toBeGreaterThan(atRollback);
    expect(w.errors).toEqual([]);
    await cp.proxy.drainer!.flush();

    const acked = [...w.acked, after, back];
    expect(missingInFile(acked)).toBe(0);
    expect(await missingInPg(acked)).toBe(0);
    const report = await runVerify({ source, target: targetUrl });
    console.log(`SQLite promote/rollback: ${acked.length} acknowledged ledger writes on both sides; verify: ${report.tables.map((t) => `${t.table} ${t.sourceRows}/${t.targetRows} ${t.equal ? 'equal' : 'DIFFERENT'}`).join(', ')}`);
    for (const t of report.tables) expect(t, `${t.table}: ${JSON.stringify(t.differences.slice(0, 3))}`).toMatchObject({ equal: true, missing: 0, extra: 0, different: 0 });
  }, 180_000);
});
