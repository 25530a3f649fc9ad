// Large values through the mirroring proxy. A 40 MB bytea is 40 MB on the wire
// in binary, under the client message limit (64 MiB), but its captured row is
// 80 MB of JSON, which the proxy drains from the source and applies to the
// mirror: server messages are not held to the client-facing limit. A message
// over the limit from the client is refused with 08P01 and nothing is written.
// A large drained row goes from the drain's answer into the mirror's Bind as
// the bytes it came in, never a string: it must still arrive byte for byte,
// whatever its characters, escapes and the columns around it.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair, proxyWithoutDrainer } from './mirrored-pair.ts';
import { drainBudget } from '../../proxy/mirror/drain-budget.ts';

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

describe('large rows as bytes through a session\'s own apply', () => {
  let rows: DbPair;
  let own: TestProxy;
  beforeAll(async () => {
    rows = await mirroredPair('mirror_large_rows', 'CREATE TABLE big (id int PRIMARY KEY, b bytea, t text, j jsonb, n numeric, tail text)');
    // no drainer: a row on the mirror right after the client's answer came through the session's own apply
    own = await proxyWithoutDrainer(rows);
  });
  afterAll(async () => {
    await own?.close();
  });

  const digest = async (url: string) => (await sql(url, 'SELECT id, length(b) AS nb, md5(b) AS b, length(t) AS nt, md5(t) AS t, md5(j::text) AS j, n::text, tail FROM big ORDER BY id')).rows;
  /** Characters of 1 to 4 bytes in UTF-8, and ones JSON escapes (quote, backslash, newline, a control character). */
  const text = (chars: number, seed: number) => {
    const alphabet = ['a', 'é', '€', '😀', '"', '\\', '\n', '\u0001', 'Ω', ' '];
    let out = '';
    for (let i = 0; i < chars; i++) out += alphabet[(i * 7 + seed + (i >> 5)) % alphabet.length];
    return out;
  };

  it('a multi-MB bytea, a multi-MB non-ASCII text and the columns after them reach the mirror byte for byte', async () => {
    const c = new pg.Client({ connectionString: own.url(rows.name) });
    await c.connect();
    c.on('error', () => undefined);
    onTestFinished(() => c.end().catch(() => undefined));
    const bytes = Buffer.alloc(6 << 20);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const big = text(2 << 20, 3);
    const json = JSON.stringify({ k: text(100_000, 5), n: [1, 2.50, '"}'] });
    // one large value, both, a small row beside a large one in one transaction
    await c.query('INSERT INTO big VALUES (1, $1, NULL, NULL, 1.10, $2)', [bytes, 'après']);
    await c.query('INSERT INTO big VALUES (2, $1, $2, $3, 123456789012345678901234567890.000001, $4)', [bytes.subarray(1), big, json, '"}\\']);
    await c.query('BEGIN');
    await c.query(`INSERT INTO big VALUES (3, NULL, 'small', '{}', 0, 'x')`);
    await c.query('INSERT INTO big VALUES (4, NULL, $1, NULL, -0.0, NULL)', [text(1 << 20, 7)]);
    await c.query('COMMIT');
    // an update of a large row, and a delete
    await c.query('UPDATE big SET t = t || $1, tail = $2 WHERE id = 2', ['é😀', 'fin']);
    await c.query('DELETE FROM big WHERE id = 1');
    const source = await digest(rows.legacyUrl);
    expect(source.map((r) => r.id)).toEqual([2, 3, 4]);
    expect(source[0]).toMatchObject({ nb: (6 << 20) - 1, nt: (2 << 20) + 2, tail: 'fin' });
    expect(await digest(rows.targetUrl)).toEqual(source);
    expect(own.live.get().tripped).toBeNull();
  }, 120_000);

  it('several sessions committing large rows at once (one mirror transaction, more than one statement) and rows put back by drain-ahead', async () => {
    const clients = await Promise.all([1, 2, 3].map(async () => {
      const c = new pg.Client({ connectionString: own.url(rows.name) });
      await c.connect();
      c.on('error', () => undefined);
      onTestFinished(() => c.end().catch(() => undefined));
      return c;
    }));
    // 3 rows of 12 MB of text (16 MB a statement at most in the mirror's apply)
    await Promise.all(clients.map((c, k) => c.query('INSERT INTO big VALUES ($1, NULL, $2, NULL, $3, NULL)', [10 + k, text(6 << 20, k), 10 + k])));
    // an insert learnt as its transaction's last write is drained ahead,
    // then the SAVEPOINT puts its large row back into the change table before it runs
    const [c] = clients;
    const insert = (id: number) => `INSERT INTO big VALUES (${id}, decode(repeat('c3a9', 300000), 'hex'), repeat('é', 300000), NULL, NULL, NULL)`;
    for (let k = 0; k < 2; k++) for (const q of ['BEGIN', insert(20 + k), 'COMMIT']) await c!.query(q);
    await c!.query('BEGIN');
    await c!.query(insert(22));
    await c!.query('SAVEPOINT s');
    await c!.query(`UPDATE big SET tail = 'after the savepoint' WHERE id = 22`);
    await c!.query('COMMIT');
    const source = await digest(rows.legacyUrl);
    expect(source.map((r) => r.id)).toEqual([2, 3, 4, 10, 11, 12, 20, 21, 22]);
    expect(await digest(rows.targetUrl)).toEqual(source);
    expect(own.live.get().tripped).toBeNull();
  }, 120_000);

  it('sessions past the budget for large drained rows wait their turn, and every one commits and is mirrored', async () => {
    const limit = drainBudget.limit;
    drainBudget.limit = 3 << 20;
    onTestFinished(() => void (drainBudget.limit = limit));
    const clients = await Promise.all([1, 2, 3, 4].map(async () => {
      const c = new pg.Client({ connectionString: own.url(rows.name) });
      await c.connect();
      c.on('error', () => undefined);
      onTestFinished(() => c.end().catch(() => undefined));
      return c;
    }));
    // each row's JSON is 4 MB (hex): one session at a time holds one, and one with two rows holds both
    await Promise.all(clients.map(async (c, k) => {
      await c.query('BEGIN');
      await c.query('INSERT INTO big VALUES ($1, $2, NULL, NULL, NULL, NULL)', [30 + k, Buffer.alloc(2 << 20, k)]);
      if (k === 0) await c.query('INSERT INTO big VALUES (40, $1, NULL, NULL, NULL, NULL)', [Buffer.alloc(2 << 20, 9)]);
      await c.query('COMMIT');
    }));
    expect(drainBudget.taken).toBe(0);
    expect(drainBudget.waiters).toBe(0);
    const source = await digest(rows.legacyUrl);
    expect(source.map((r) => r.id)).toEqual([2, 3, 4, 10, 11, 12, 20, 21, 22, 30, 31, 32, 33, 40]);
    expect(await digest(rows.targetUrl)).toEqual(source);
  }, 120_000);
});
