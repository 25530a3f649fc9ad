// Drain-ahead (proxy/mirror/drain-ahead.ts): once the proxy has learned which
// write ends a transaction shape, it drains the change rows behind that write
// and the COMMIT goes to the mirror without a drain round trip of its own.
// Every way the rest of the transaction can go must leave both databases
// equal: more writes after the guess, a savepoint rolled back, a failed read,
// a ROLLBACK, a COPY (which the relay runs without the drained rows, so they go
// back into the change table first), the extended protocol, and a drain that
// fails. The metric shows the drain-ahead did happen, so a scenario cannot
// pass by never taking the new path.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair, refuseDrainWhenAsked } from './mirrored-pair.ts';
import { mirrorMetrics } from '../../proxy/mirror/metrics.ts';
import { pgCaptureDialect } from '../../proxy/capture/pg-capture.ts';

let pair: DbPair;
let tp: TestProxy;
let c: pg.Client;

const counter = async (m: { get(): Promise<{ values: { value: number }[] }> }) => (await m.get()).values[0]?.value ?? 0;
const aheadCount = () => counter(mirrorMetrics.drainAhead);
const dirtyCount = () => counter(mirrorMetrics.dirtyKeys);

async function both(query: string): Promise<[unknown[], unknown[]]> {
  const [a, b] = await Promise.all([sql(pair.legacyUrl, query), sql(pair.targetUrl, query)]);
  return [a.rows, b.rows];
}

/** The row is on neither side. */
async function expectNowhere(id: number): Promise<void> {
  const [src, dst] = await both(`SELECT id FROM t WHERE id = ${id}`);
  expect(src).toEqual([]);
  expect(dst).toEqual([]);
}

async function expectEqual(): Promise<void> {
  const [src, dst] = await both('SELECT id::text, v FROM t ORDER BY id');
  expect(dst).toEqual(src);
}

let nextId = 1000;
/** The shape the proxy learns: an UPDATE, then an INSERT that is the transaction's last write. */
async function teach(times = 3): Promise<void> {
  for (let i = 0; i < times; i++) {
    await c.query('BEGIN');
    await c.query(`UPDATE t SET v = 'touched' WHERE id = 0`);
    await c.query(`INSERT INTO t VALUES (${nextId++}, 'taught')`);
    await c.query('COMMIT');
  }
}
const insert = (v: string) => c.query(`INSERT INTO t VALUES (${nextId++}, '${v}')`);

beforeAll(async () => {
  pair = await mirroredPair('drain_ahead', `
    CREATE TABLE t (id bigint PRIMARY KEY, v text);
    INSERT INTO t VALUES (0, 'seed');`);
  await refuseDrainWhenAsked(pair.legacyUrl);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
  for (let i = 0; i < 50 && !tp.live.get().mirroring; i++) await new Promise((r) => setTimeout(r, 100));
  c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  await teach();
});
afterAll(async () => {
  await c?.end();
  await tp?.close();
});

it('a learned last write takes the drain: the COMMIT needs none of its own, and the mirror is equal', async () => {
  const before = await aheadCount();
  await teach(2);
  expect(await aheadCount()).toBe(before + 2);
  await expectEqual();
});

it('a write after the guessed last one is drained at COMMIT as before', async () => {
  await c.query('BEGIN');
  await c.query(`UPDATE t SET v = 'touched' WHERE id = 0`);
  const id = nextId;
  await insert('guessed last');
  await c.query(`UPDATE t SET v = 'written after' WHERE id = ${id}`);
  await c.query('COMMIT');
  const [, dst] = await both(`SELECT v FROM t WHERE id = ${id}`);
  expect(dst).toEqual([{ v: 'written after' }]);
  await expectEqual();
});

it('a savepoint rolled back after a drain-ahead leaves on the mirror what the source kept', async () => {
  const before = await aheadCount();
  await c.query('BEGIN');
  const kept = nextId;
  await insert('before the savepoint');
  await c.query('SAVEPOINT s');
  const undone = nextId;
  await insert('rolled back');
  await c.query('ROLLBACK TO SAVEPOINT s');
  const after = nextId;
  await insert('after the rollback');
  await c.query('COMMIT');
  // the savepoint ends drain-ahead for the transaction: its COMMIT drained
  expect(await aheadCount()).toBe(before);
  const [src, dst] = await both(`SELECT id::text FROM t WHERE id IN (${kept}, ${undone}, ${after}) ORDER BY id`);
  expect(src).toEqual([{ id: String(kept) }, { id: String(after) }]);
  expect(dst).toEqual(src);
  await expectEqual();
});

it('a read that fails after a drain-ahead: COMMIT rolls back, and nothing reached the mirror', async () => {
  const dirty = await dirtyCount();
  await c.query('BEGIN');
  const id = nextId;
  await insert('failed transaction');
  await expect(c.query('SELECT 1 / 0')).rejects.toMatchObject({ code: '22012' });
  const commit = await c.query('COMMIT');
  expect(commit.command).toBe('ROLLBACK');
  await expectNowhere(id);
  // not applied and then repaired: never applied
  expect(await dirtyCount()).toBe(dirty);
});

it('ROLLBACK after a drain-ahead drops the drained rows', async () => {
  const dirty = await dirtyCount();
  await c.query('BEGIN');
  const id = nextId;
  await insert('rolled back');
  await c.query('ROLLBACK');
  await expectNowhere(id);
  expect(await dirtyCount()).toBe(dirty);
  // the next transaction starts clean
  await teach(1);
  await expectEqual();
});

it('a COPY after a drain-ahead: the drained rows go back first, and every row reaches the mirror', async () => {
  const { from } = await import('pg-copy-streams');
  await c.query('BEGIN');
  const first = nextId;
  await insert('before the copy');
  const a = nextId++;
  const b = nextId++;
  await pipeline(Readable.from([`${a}\tcopied a\n${b}\tcopied b\n`]), c.query(from('COPY t FROM STDIN')));
  await c.query(`UPDATE t SET v = 'updated after the copy' WHERE id = ${first}`);
  await c.query('COMMIT');
  const [src, dst] = await both(`SELECT id::text, v FROM t WHERE id IN (${first}, ${a}, ${b}) ORDER BY id`);
  expect(src).toHaveLength(3);
  expect(dst).toEqual(src);
  await expectEqual();
});

it('the extended protocol learns and drains ahead the same way', async () => {
  const before = await aheadCount();
  for (let i = 0; i < 4; i++) {
    await c.query('BEGIN');
    await c.query('UPDATE t SET v = $1 WHERE id = 0', [`extended ${i}`]);
    await c.query({ name: 'ins', text: 'INSERT INTO t VALUES ($1, $2)', values: [nextId++, `extended ${i}`] });
    await c.query('COMMIT');
  }
  expect(await aheadCount()).toBeGreaterThan(before);
  await expectEqual();
});

it('a drain-ahead that fails aborts the transaction: its COMMIT fails with 40000, nothing written', async () => {
  await c.query('BEGIN');
  await c.query(`SET LOCAL test.fail_drain = 'on'`);
  await c.query(`UPDATE t SET v = 'touched' WHERE id = 0`);
  const id = nextId;
  await insert('drain refused');
  await expect(c.query('COMMIT')).rejects.toMatchObject({ code: '40000' });
  await expectNowhere(id);
  await teach(1);
  await expectEqual();
});

it('keys and rows written back to the change table keep their exact values (bigint past 2^53, numeric)', async () => {
  const big = '9007199254740993';
  const pk = `{"id": ${big}}`;
  const row = `{"id": ${big}, "v": 1.000000000000000000001}`;
  const client = new pg.Client({ connectionString: pair.legacyUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(pgCaptureDialect.dirtySql([{ tbl: '"public"."t"', pk }]));
    await client.query(pgCaptureDialect.restoreSql!([{ seq: 1, tbl: '"public"."t"', op: 'U', pk, row }, { seq: 2, tbl: '"public"."t"', op: 'D', pk, row: null }]));
    const r = await client.query(`SELECT op, pk::text, row::text FROM cutover.changes WHERE txid = txid_current() ORDER BY seq`);
    expect(r.rows).toEqual([
      // rows are json: their text comes back as written; put back with the seq they were taken with
      { op: 'U', pk, row },
      { op: 'D', pk, row: null },
      { op: 'R', pk, row: null },
    ]);
  } finally {
    await client.query('ROLLBACK');
    await client.end();
  }
});
