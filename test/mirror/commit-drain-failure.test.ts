// A transaction whose changes cannot be drained for the mirror (here a trigger
// on the change table refuses the drain's DELETE) is aborted on the source, so
// its COMMIT would come back as a bare ROLLBACK tag, which clients take for
// success. The client must get an error instead (40000), in both protocols,
// with nothing written on either side, and the session must stay usable.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair, refuseDrainWhenAsked } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('commit_drain_failure', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
  await refuseDrainWhenAsked(pair.legacyUrl);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
  for (let i = 0; i < 50 && !tp.live.get().mirroring; i++) await new Promise((r) => setTimeout(r, 100));
});
afterAll(async () => {
  await tp?.close();
});

it.each(['simple', 'extended'])('a COMMIT whose changes could not be drained fails with 40000 (%s protocol)', async (protocol) => {
  const base = protocol === 'simple' ? 10 : 20;
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query(`INSERT INTO t VALUES (${base}, 'lost')`);
    await c.query(`SET LOCAL test.fail_drain = 'on'`);
    const commit = protocol === 'simple' ? c.query('COMMIT') : c.query({ text: 'COMMIT', name: `commit_${base}` });
    await expect(commit).rejects.toMatchObject({ code: '40000' });
    // the session goes on, outside any transaction
    await c.query(`INSERT INTO t VALUES (${base + 1}, 'kept')`);
  } finally {
    await c.end();
  }
  await tp.proxy.drainer!.drainOnce();
  for (const url of [pair.legacyUrl, pair.targetUrl]) {
    const rows = await sql(url, `SELECT id, v FROM t WHERE id IN (${base}, ${base + 1}) ORDER BY id`);
    expect(rows.rows).toEqual([{ id: base + 1, v: 'kept' }]);
  }
});
