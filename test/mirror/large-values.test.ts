// Large values through the mirroring proxy. A 40 MB bytea is 40 MB on the wire
// in binary, under the client message limit (64 MiB), but its captured row is
// 80 MB of JSON, which the proxy drains from the source and applies to the
// mirror: server messages are not held to the client-facing limit. A message
// over the limit from the client is refused with 08P01 and nothing is written.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_large_values', 'CREATE TABLE blobs (id int PRIMARY KEY, b bytea)');
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
});
afterAll(async () => {
  await tp?.close();
});

const digest = async (url: string) => (await sql(url, 'SELECT id, length(b) AS n, md5(b) AS md5 FROM blobs ORDER BY id')).rows;

describe('large values while mirroring', () => {
  it('a 40 MB bytea is mirrored before its commit; a message over the limit gets 08P01 and writes nothing', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    // the proxy ends this session when the test is over, failed or not: no unhandled error then
    c.on('error', () => undefined);
    onTestFinished(() => c.end().catch(() => undefined));
    const value = Buffer.alloc(40 << 20);
    for (let i = 0; i < value.length; i += 4096) value.writeUInt32BE(i, i);
    const t0 = Date.now();
    await c.query('INSERT INTO blobs VALUES (1, $1)', [value]);
    console.log(`40 MB bytea mirrored in ${Date.now() - t0} ms`);
    expect(await digest(pair.targetUrl)).toEqual(await digest(pair.legacyUrl));
    expect((await digest(pair.targetUrl))[0]).toMatchObject({ id: 1, n: 40 << 20 });
    expect(tp.live.get().tripped).toBeNull();

    await expect(c.query('INSERT INTO blobs VALUES (2, $1)', [Buffer.alloc(70 << 20)])).rejects.toMatchObject({ code: '08P01' });
    await c.end().catch(() => undefined);
    expect((await digest(pair.legacyUrl)).map((r) => r.id)).toEqual([1]);
    expect((await digest(pair.targetUrl)).map((r) => r.id)).toEqual([1]);
  }, 120_000);

  it('captured rows are kept uncompressed in the change table: they live one transaction, and pglz took seconds on a large one', async () => {
    const r = await sql(pair.legacyUrl, `SELECT attstorage FROM pg_attribute WHERE attrelid = 'cutover.changes'::regclass AND attname = 'row'`);
    expect(r.rows).toEqual([{ attstorage: 'e' }]);
  });
});
