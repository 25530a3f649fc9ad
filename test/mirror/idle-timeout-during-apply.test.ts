// While the mirror applies a transaction's rows the source waits idle in that
// transaction, on the proxy's account, not the client's. A client with
// idle_in_transaction_session_timeout shorter than a slow apply (a row lock
// held on the new database) had its session ended (FATAL 25P03) and its write
// lost, where PostgreSQL commits it: a slow new database broke the application.
// The lock is released only after the client's timeout has passed, so the
// apply outlasts it every time.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import { proxyWithoutDrainer, mirroredPair } from './mirrored-pair.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { mirrorMetrics } from '../../proxy/mirror/metrics.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('idle_timeout_during_apply', 'CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL); INSERT INTO kv SELECT g, 0 FROM generate_series(1, 10) g;');
  tp = await proxyWithoutDrainer(pair);
});
afterAll(async () => {
  await tp?.close();
});

/** Row `id` locked on the new database until well after the client's 200 ms idle timeout. */
async function lockedOnTarget(id: number): Promise<() => Promise<void>> {
  const holder = new pg.Client({ connectionString: pair.targetUrl });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('SELECT 1 FROM kv WHERE id = $1 FOR UPDATE', [id]);
  const released = new Promise<void>((r) => setTimeout(() => void holder.query('ROLLBACK').then(() => r()), 600));
  return async () => {
    await released;
    await holder.end();
  };
}

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  c.on('error', () => undefined);
  await c.connect();
  await c.query(`SET idle_in_transaction_session_timeout = '200ms'`);
  return c;
}

async function expectOnBothSides(id: number, v: number): Promise<void> {
  for (const url of [pair.legacyUrl, pair.targetUrl]) expect((await sql(url, 'SELECT v FROM kv WHERE id = $1', [id])).rows).toEqual([{ v }]);
}

it.each([
  { how: 'an autocommit write', id: 1, run: (c: pg.Client) => c.query('UPDATE kv SET v = 11 WHERE id = 1'), v: 11 },
  { how: 'a transaction block', id: 2, run: async (c: pg.Client) => { await c.query('BEGIN'); await c.query('UPDATE kv SET v = $1 WHERE id = 2', [12]); await c.query('COMMIT'); }, v: 12 },
])('$how whose mirror apply outlasts the client idle-in-transaction timeout commits, on both sides', async ({ id, run, v }) => {
  const release = await lockedOnTarget(id);
  const c = await client();
  try {
    await run(c);
    await release();
    expect((await c.query('SHOW idle_in_transaction_session_timeout')).rows).toEqual([{ idle_in_transaction_session_timeout: '200ms' }]);
  } finally {
    await c.end().catch(() => undefined);
  }
  await expectOnBothSides(id, v);
});

it('rows drained ahead: their apply at COMMIT outlasting the timeout commits, on both sides', async () => {
  const update = 'UPDATE kv SET v = v + $1 WHERE id = 3';
  const c = await client();
  try {
    // committed once, the shape is taken for its transaction's last write from then on
    await c.query('BEGIN');
    await c.query(update, [1]);
    await c.query('COMMIT');
    const ahead = (await mirrorMetrics.drainAhead.get()).values[0]?.value ?? 0;
    const release = await lockedOnTarget(3);
    await c.query('BEGIN');
    await c.query(update, [10]);
    await c.query('COMMIT');
    await release();
    expect((await mirrorMetrics.drainAhead.get()).values[0]?.value).toBe(ahead + 1);
  } finally {
    await c.end().catch(() => undefined);
  }
  await expectOnBothSides(3, 11);
});
