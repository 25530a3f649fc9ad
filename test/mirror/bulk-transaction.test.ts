// A transaction that changes more rows than one drain takes (DRAIN_LIMIT) is
// not applied to the mirror before its COMMIT: its rows would have to sit in
// the proxy's memory (300,000 of them: 423 MB of RSS, 2,000,000: 2 GB, and
// an apply that timed out). Its keys are left to the drainer instead, as
// after a failed apply: the client's COMMIT succeeds, reads stay on the
// source, and the mirror catches up to equal. A transaction at the limit is
// still applied before its COMMIT.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { DRAIN_LIMIT } from '../../proxy/capture/dialect.ts';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair } from './mirrored-pair.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_bulk_txn', `CREATE TABLE bulk (id int PRIMARY KEY, v text NOT NULL)`);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 50 });
});
afterAll(async () => {
  await tp?.close();
});

const digest = async (url: string) => (await sql(url, `SELECT count(*)::int AS n, md5(coalesce(string_agg(id || ':' || v, ',' ORDER BY id), '')) AS h FROM bulk`)).rows[0];

it('applies a transaction of exactly the limit before its commit', async () => {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  try {
    await c.query(`INSERT INTO bulk SELECT g, 'a' || g FROM generate_series(1, ${DRAIN_LIMIT}) g`);
    // acknowledged means on the mirror
    expect(await digest(pair.targetUrl)).toEqual(await digest(pair.legacyUrl));
    expect(tp.live.get().tripped).toBeNull();
  } finally {
    await c.end();
  }
});

it('leaves a bigger one to the drainer: the commit succeeds, reads stay on the source, the mirror catches up equal', async () => {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  // a proxy shutting down after a failed assertion must not become an uncaught error of the whole run
  c.on('error', () => undefined);
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query(`INSERT INTO bulk SELECT g, 'b' || g FROM generate_series(${DRAIN_LIMIT + 1}, ${3 * DRAIN_LIMIT}) g`);
    await c.query(`UPDATE bulk SET v = v || '!' WHERE id % 3 = 0`);
    await c.query(`DELETE FROM bulk WHERE id % 7 = 0`);
    await c.query('COMMIT');
    expect(tp.live.get().tripped).toMatch(/more than 10000 rows/);
    // the session goes on, its next small write mirrored before commit as usual
    await c.query(`INSERT INTO bulk VALUES (-1, 'after')`);
    expect((await sql(pair.targetUrl, `SELECT v FROM bulk WHERE id = -1`)).rows[0]?.v).toBe('after');
    const want = await digest(pair.legacyUrl);
    expect(want.n).toBe(3 * DRAIN_LIMIT + 1 - Math.floor((3 * DRAIN_LIMIT) / 7));
    // about 10 s on a quiet machine; the whole suite running beside it has made it take 50 s and more
    const waited = Date.now();
    let got = await digest(pair.targetUrl);
    let last = { n: got.n, at: Date.now() };
    for (const deadline = Date.now() + 120_000; got.h !== want.h && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 200));
      got = await digest(pair.targetUrl);
      if (got.n !== last.n) last = { n: got.n, at: Date.now() };
      // stuck rather than slow: what the drainer is doing, for the run's log
      else if (Date.now() - last.at > 15_000) {
        last.at = Date.now();
        console.log(await stuckReport(tp, pair));
      }
    }
    console.log(`bulk transaction: the drainer brought the mirror level ${Date.now() - waited} ms after the COMMIT`);
    expect(got).toEqual(want);
  } finally {
    await c.end();
  }
}, 180_000);

/** The proxy's side of a stall (test/harness/failure-report.ts prints the servers' side if the test then fails). */
async function stuckReport(tp: TestProxy, pair: DbPair): Promise<string> {
  const d = tp.proxy.drainer as unknown as { running?: boolean; backlog: number } | null;
  const changes = (await sql(pair.legacyUrl, `SELECT op, count(*)::int AS n FROM cutover.changes GROUP BY op`)).rows;
  return `mirror not moving: ${JSON.stringify({ drainer: d && { running: d.running, backlog: d.backlog }, tripped: tp.live.get().tripped, changes })}`;
}
