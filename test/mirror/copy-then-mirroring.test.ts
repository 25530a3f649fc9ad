// A session that ran COPY FROM STDIN before capture was installed: its next
// request must go through the mirroring relay, not straight to the source.
import { afterAll, beforeAll, expect, it } from 'vitest';
import postgres from 'postgres';
import client from 'prom-client';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { installCaptureAt } from './mirrored-pair.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;
const SCHEMA = `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);`;

beforeAll(async () => {
  pair = await databasePair('mirror_copy_then_capture');
  await sql(pair.legacyUrl, SCHEMA);
  await sql(pair.targetUrl, SCHEMA);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
});
afterAll(async () => {
  await tp?.close();
});

async function sourceWrites(): Promise<number> {
  const m = await client.register.getSingleMetric('cutover_queries_total')!.get();
  return m.values.filter((v) => v.labels.backend === 'source' && v.labels.kind === 'write').reduce((a, v) => a + v.value, 0);
}

it('the first write after capture is installed is mirrored, also when the session copied in before', { timeout: 15_000 }, async () => {
  const db = postgres(tp.url(pair.name), { max: 1 });
  try {
    const writable = await db`COPY items (id, name) FROM STDIN`.writable();
    writable.end('1\tone\n');
    await new Promise((r) => writable.on('finish', r));
    await installCaptureAt(pair.legacyUrl);
    while (!tp.live.mirroringActive) await new Promise((r) => setTimeout(r, 20));
    const before = await sourceWrites();
    await db`INSERT INTO items VALUES (2, 'two')`;
    // through the mirroring relay (counted there), so on the target by the time it is acknowledged
    expect(await sourceWrites()).toBe(before + 1);
    expect((await sql(pair.targetUrl, 'SELECT name FROM items WHERE id = 2')).rows).toEqual([{ name: 'two' }]);
  } finally {
    await db.end({ timeout: 1 });
  }
});
