// The target stops answering without closing its connections (frozen host,
// cut network): nothing the mirror waits on may hold the source for longer
// than the apply deadline. A client's commit goes through with its keys
// recorded dirty; the drainer, which re-reads dirty keys FOR SHARE on the
// source while it applies them, lets go of those rows when its apply times
// out, so the application's own updates of them go on. And an apply given up
// on must not land later, over a newer re-sync of the same row: before the fix
// the stuck apply arrived after the thaw and left the mirror with the old value.
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { freezableForwarder } from './freezable-forwarder.ts';
import { sql, type DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import { startTestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair } from './mirrored-pair.ts';

let pair: DbPair;

beforeAll(async () => {
  pair = await mirroredPair('mirror_target_partition', 'CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL)');
});

describe('the target frozen (answers nothing, closes nothing)', () => {
  it.each([
    // the whole host stuck; out-of-band updates first, so the drainer locks their row and then waits on the mirror
    { hold: true, id: 1, what: 'every flow stuck: the drainer holds no source row past the apply deadline' },
    // the pooled connection stuck, new ones pass: the given-up apply would arrive after the newer commit's
    { hold: false, id: 11, what: 'the open flows stuck: an apply given up on never lands over a newer one' },
  ])('$what; the drainer converges after the thaw', async ({ hold, id }) => {
    const fwd = await freezableForwarder(new URL(pair.targetUrl));
    const via = new URL(pair.targetUrl);
    via.port = String(fwd.port);
    const tp = await startTestProxy({ source: pair.legacyUrl, target: via.toString() });
    const app = new pg.Client({ connectionString: tp.url(pair.name) });
    const waits: number[] = [];
    const commits: number[] = [];
    /** Out-of-band updates of one row, each waiting for the drainer's lock on it at most until its apply deadline. */
    const directUpdates = async () => {
      const direct = new pg.Client({ connectionString: pair.legacyUrl });
      await direct.connect();
      try {
        // a drainer that kept its FOR SHARE lock until the frozen mirror answered would block these for good
        await direct.query(`SET statement_timeout = '20s'`);
        for (let i = 0; i < 3; i++) {
          const t = Date.now();
          await direct.query(`UPDATE kv SET v = $1 WHERE id = $2`, [`direct ${i}`, id + 1]);
          waits.push(Date.now() - t);
          await new Promise((r) => setTimeout(r, 1_000));
        }
      } finally {
        await direct.end();
      }
    };
    /** The application's commits of one row through the proxy: each waits for the mirror at most until the deadline. */
    const proxiedUpdates = async () => {
      for (const v of ['during', 'after']) {
        const t = Date.now();
        await app.query(`UPDATE kv SET v = $1 WHERE id = $2`, [v, id]);
        commits.push(Date.now() - t);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    };
    try {
      await app.connect();
      await app.query(`INSERT INTO kv VALUES ($1, 'one'), ($2, 'two')`, [id, id + 1]);
      expect((await sql(pair.targetUrl, 'SELECT count(*)::int AS n FROM kv WHERE id IN ($1, $2)', [id, id + 1])).rows[0].n).toBe(2);

      fwd.freeze({ hold });
      if (hold) {
        await directUpdates();
        await proxiedUpdates();
      } else {
        await proxiedUpdates();
        await directUpdates();
      }
      console.log(`hold ${hold}: direct updates waited ${waits.join(', ')} ms; proxied commits took ${commits.join(', ')} ms`);
      for (const ms of [...waits, ...commits]) expect(ms).toBeLessThan(12_000);

      fwd.thaw();
      const deadline = Date.now() + 60_000;
      for (;;) {
        const n = await tp.proxy.drainer!.drainOnce().catch(() => -1);
        if (n === 0 && tp.proxy.drainer!.backlog === 0) break;
        if (Date.now() > deadline) throw new Error(`the drainer did not converge: backlog ${tp.proxy.drainer!.backlog}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // whatever was stuck in the frozen flows has arrived (or found its session gone) by now
      await new Promise((r) => setTimeout(r, 500));
      expect((await sql(pair.targetUrl, 'SELECT id, v FROM kv WHERE id IN ($1, $2) ORDER BY id', [id, id + 1])).rows).toEqual([{ id, v: 'after' }, { id: id + 1, v: 'direct 2' }]);
      const diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, ['public.kv']);
      expect(diffs.filter((d) => !d.equal)).toEqual([]);
    } finally {
      fwd.thaw();
      await app.end().catch(() => undefined);
      await tp.close();
      await fwd.close();
    }
  }, 120_000);
});
