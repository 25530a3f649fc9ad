// A client's statement_timeout is for its own statements: the drain the proxy
// runs in the client's transaction before its COMMIT is not one of them.
// PostgreSQL commits such a transaction; through the proxy a drain that took
// longer than the client's timeout failed the commit with 40000 "capture
// missing?". A trigger on the change table slows the drain's DELETE (only in
// a transaction that asks for it), so the drain outlasts the timeout every time.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import { proxyWithoutDrainer, mirroredPair } from './mirrored-pair.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { mirrorMetrics } from '../../proxy/mirror/metrics.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('drain_statement_timeout', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
  await sql(pair.legacyUrl, `
    CREATE FUNCTION slow_drain() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('test.slow_drain', true) = 'on' THEN PERFORM pg_sleep(0.3); END IF;
      RETURN OLD;
    END $$;
    CREATE TRIGGER slow_drain BEFORE DELETE ON cutover.changes FOR EACH ROW EXECUTE FUNCTION slow_drain();`);
  tp = await proxyWithoutDrainer(pair);
});
afterAll(async () => {
  await tp?.close();
});

async function onBothSides(id: number): Promise<unknown[]> {
  return Promise.all([pair.legacyUrl, pair.targetUrl].map(async (url) => (await sql(url, 'SELECT v FROM t WHERE id = $1', [id])).rows));
}

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  await c.query(`SET statement_timeout = '100ms'`);
  return c;
}

// Each statement shape below is new to the proxy, so it is not taken for its
// transaction's last write (drain-ahead.ts) until it committed once.
it.each([
  { protocol: 'simple', id: 1, insert: `INSERT INTO t VALUES (1, 'kept')` },
  { protocol: 'extended', id: 2, insert: `INSERT INTO t (v, id) VALUES ('kept', 2)` },
])('a transaction whose drain outlasts the client statement_timeout commits, on both sides ($protocol protocol)', async ({ protocol, id, insert }) => {
  const c = await client();
  try {
    await c.query('BEGIN');
    await c.query(`SET LOCAL test.slow_drain = 'on'`);
    await c.query(insert);
    await (protocol === 'simple' ? c.query('COMMIT') : c.query({ text: 'COMMIT', name: `commit_${id}` }));
    // the client's own statements still time out
    await expect(c.query('SELECT pg_sleep(1)')).rejects.toMatchObject({ code: '57014' });
    expect((await c.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '100ms' }]);
  } finally {
    await c.end();
  }
  expect(await onBothSides(id)).toEqual([[{ v: 'kept' }], [{ v: 'kept' }]]);
});

it('an autocommit write whose drain outlasts the client statement_timeout commits, on both sides', async () => {
  const c = await client();
  try {
    await c.query(`SET test.slow_drain = 'on'`);
    await c.query('INSERT INTO t (id, v) VALUES ($1, $2)', [3, 'kept']);
    await expect(c.query('SELECT pg_sleep(1)')).rejects.toMatchObject({ code: '57014' });
  } finally {
    await c.end();
  }
  expect(await onBothSides(3)).toEqual([[{ v: 'kept' }], [{ v: 'kept' }]]);
});

it('a drain ahead outlasting the timeout: the transaction commits, and its later statements time out as before', async () => {
  const insert = `INSERT INTO t (id, v) SELECT $1::int, 'kept'`;
  const c = await client();
  try {
    // committed once, the shape is taken for its transaction's last write from then on
    await c.query('BEGIN');
    await c.query(insert, [10]);
    await c.query('COMMIT');
    const ahead = (await mirrorMetrics.drainAhead.get()).values[0]?.value ?? 0;
    await c.query('BEGIN');
    await c.query(`SET LOCAL test.slow_drain = 'on'`);
    await c.query(insert, [11]);
    expect((await c.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '100ms' }]);
    await c.query('COMMIT');
    expect((await mirrorMetrics.drainAhead.get()).values[0]?.value).toBe(ahead + 1);
    await c.query('BEGIN');
    await c.query(insert, [12]);
    await expect(c.query('SELECT pg_sleep(1)')).rejects.toMatchObject({ code: '57014' });
    await c.query('ROLLBACK');
  } finally {
    await c.end();
  }
  expect(await onBothSides(11)).toEqual([[{ v: 'kept' }], [{ v: 'kept' }]]);
  expect(await onBothSides(12)).toEqual([[], []]);
});
