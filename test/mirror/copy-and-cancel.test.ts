// COPY FROM STDIN and client cancels while mirroring, with real clients:
// found by running postgres.js' own suite through the proxy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import client from 'prom-client';
import { sql, type DbPair } from '../harness/databases.ts';
import { lockedAt, mirroredPair } from './mirrored-pair.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;
const SCHEMA = `CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);`;

beforeAll(async () => {
  pair = await mirroredPair('mirror_copy_cancel', SCHEMA);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
});
afterAll(async () => {
  await tp?.close();
});

async function count(url: string): Promise<number> {
  return Number((await sql(url, 'SELECT count(*)::int AS n FROM items')).rows[0].n);
}

describe('COPY and cancel while mirroring', () => {
  it('an autocommit COPY FROM STDIN is mirrored, and the session goes on', { timeout: 15_000 }, async () => {
    const db = postgres(tp.url(pair.name), { max: 1, onnotice: () => undefined });
    try {
      // the proxy wraps the COPY in its own transaction: nothing may be pipelined behind it while the server copies in
      const writable = await db`COPY items (id, name) FROM STDIN`.writable();
      writable.write('1\tone\n2\ttwo\n');
      writable.end('3\tthree\n');
      await new Promise((r) => writable.on('finish', r));
      const rows = await db<{ n: number }[]>`SELECT count(*)::int AS n FROM items`;
      expect(rows[0]!.n).toBe(3);
    } finally {
      await db.end({ timeout: 1 });
    }
    expect(await count(pair.legacyUrl)).toBe(3);
    expect(await count(pair.targetUrl)).toBe(3);
  });

  it('a cancelled read routed to the target answers 57014 at once, not its result later', async () => {
    tp.live.update({ readPercent: 100 });
    const fallbacks = async () => (await client.register.getSingleMetric('cutover_read_fallbacks_total')!.get()).values.reduce((a, v) => a + v.value, 0);
    const before = await fallbacks();
    const db = postgres(tp.url(pair.name), { max: 1 });
    const release = await lockedAt(pair.targetUrl, 'items');
    try {
      const started = Date.now();
      const q = db`SELECT count(*) AS n FROM items`;
      setTimeout(() => void q.cancel(), 300);
      const err = (await q.catch((e: unknown) => e)) as { code?: string };
      expect(err.code).toBe('57014');
      expect(Date.now() - started).toBeLessThan(3_000);
      // the cancel was the client's: the read was not retried on the source, and the target is not blamed
      expect(await fallbacks()).toBe(before);
      expect(tp.live.get().tripped).toBeNull();
      const after = await db<{ x: number }[]>`SELECT 1 AS x`;
      expect(after[0]!.x).toBe(1);
    } finally {
      await release();
      await db.end({ timeout: 1 });
      tp.live.update({ readPercent: 0 });
    }
  });

  it('a client gone in the middle of COPY FROM STDIN leaves no session behind on the source, and no lock', { timeout: 20_000 }, async () => {
    const { default: pg } = await import('pg');
    for (const wrapped of [true, false]) {
      const c = new pg.Client({ connectionString: tp.url(pair.name), application_name: 'copy-gone' });
      c.on('error', () => undefined);
      await c.connect();
      if (!wrapped) await c.query('BEGIN');
      const raw = (c as unknown as { connection: { query(t: string): void; sendCopyFromChunk(b: Buffer): void; stream: { destroy(): void } } }).connection;
      raw.query('COPY items (id, name) FROM STDIN');
      await new Promise((r) => setTimeout(r, 200));
      raw.sendCopyFromChunk(Buffer.from('100\thundred\n'));
      await new Promise((r) => setTimeout(r, 100));
      raw.stream.destroy();
    }
    // as directly: the server ends the COPY, its transaction rolls back, the session goes
    const deadline = Date.now() + 10_000;
    let left = -1;
    while (Date.now() < deadline) {
      left = (await sql(pair.legacyUrl, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'copy-gone'`)).rows[0].n;
      if (left === 0 && tp.proxy.stats().sessionsOpen === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(left).toBe(0);
    expect(tp.proxy.stats().sessionsOpen).toBe(0);
    // nothing holds the table: a TRUNCATE does not wait
    await sql(pair.legacyUrl, `SET lock_timeout = '2s'; LOCK TABLE items IN ACCESS EXCLUSIVE MODE`);
    expect((await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM items WHERE id = 100')).rows[0].n).toBe(0);
  });
});
