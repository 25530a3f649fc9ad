// The source connection lost between the mirror apply and the source COMMIT
// (the session's server process terminated, a failover): the mirror has a
// transaction the source may never have committed, and the session can no
// longer record its keys dirty on that connection. The drainer records them
// on its own and re-syncs them: the mirror ends equal to the source. Before,
// the keys were lost with the connection and the mirror kept the row.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_source_lost_at_commit', 'CREATE TABLE kv (id int PRIMARY KEY, v text)');
  // on the mirror only, firing for the apply too (ALWAYS): a slow apply, the window the source connection is lost in
  await sql(pair.targetUrl, `
    CREATE FUNCTION slow_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.v = 'slow' THEN PERFORM pg_sleep(1.5); END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER slow_apply BEFORE INSERT OR UPDATE ON kv FOR EACH ROW EXECUTE FUNCTION slow_apply();
    ALTER TABLE kv ENABLE ALWAYS TRIGGER slow_apply;`);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
});
afterAll(async () => {
  await tp?.close();
});

describe('the source connection lost at COMMIT, after the mirror apply', () => {
  it('the drainer records the keys and re-syncs them: the mirror does not keep a transaction the source rolled back', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    c.on('error', () => undefined);
    await c.connect();
    await c.query(`INSERT INTO kv VALUES (1, 'kept')`);
    await c.query('BEGIN');
    await c.query(`INSERT INTO kv VALUES (2, 'slow')`);
    await c.query(`UPDATE kv SET v = 'changed' WHERE id = 1`);
    const commit = c.query('COMMIT').then(() => null, (e: { code?: string }) => e.code ?? 'error');
    // while the mirror applies (1.5 s), the session's server process on the source goes away
    await new Promise((r) => setTimeout(r, 500));
    const killed = await sql(pair.legacyUrl, 'SELECT pg_terminate_backend($1) AS ok', [(c as unknown as { processID: number }).processID]);
    expect(killed.rows[0].ok).toBe(true);
    expect(await commit).not.toBeNull();
    await c.end().catch(() => undefined);

    expect((await sql(pair.legacyUrl, 'SELECT id, v FROM kv ORDER BY id')).rows).toEqual([{ id: 1, v: 'kept' }]);
    // the apply finishes and commits on the mirror: it has the transaction the source rolled back
    for (let i = 0; i < 100; i++) {
      const busy = await sql(pair.targetUrl, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'cutover-mirror' AND state = 'active'`);
      if (busy.rows[0].n === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      await tp.proxy.drainer!.flush().catch(() => undefined);
      const diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, ['public.kv']);
      if (diffs.every((d) => d.equal)) break;
      if (Date.now() > deadline) throw new Error(`mirror still differs: ${JSON.stringify((await sql(pair.targetUrl, 'SELECT id, v FROM kv ORDER BY id')).rows)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect((await sql(pair.targetUrl, 'SELECT id, v FROM kv ORDER BY id')).rows).toEqual([{ id: 1, v: 'kept' }]);
    // the new database did nothing wrong: reads were held until the re-sync, not tripped
    expect(tp.live.get().tripped).toBeNull();
    expect(tp.proxy.guard!.stats.refusedKeys).toBe(2);
    for (let i = 0; i < 100 && !tp.proxy.guard!.readsAllowed; i++) await new Promise((r) => setTimeout(r, 50));
    expect(tp.proxy.guard!.readsAllowed).toBe(true);
  }, 60_000);
});
