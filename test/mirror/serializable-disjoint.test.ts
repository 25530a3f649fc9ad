// Two SERIALIZABLE transactions writing rows that have nothing in common
// (in tables of their own: two rows of one table may share an index page,
// which PostgreSQL's own checks then count as a conflict when an update is not
// HOT) commit directly; through the proxy one of them failed 40001 every time. The
// proxy's drain deleted its change rows by a sequential scan of the (small)
// change table, reading the rows the other transaction had drained: a
// read/write cycle of the proxy's making. Each round here interleaves the two
// the same way, so the old drain met it in every round.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';
import { pgClientConfig } from '../../common/pg-config.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy | undefined;

beforeAll(async () => {
  pair = await mirroredPair('serializable_disjoint', `
    CREATE TABLE kv1 (id int PRIMARY KEY, v int NOT NULL); INSERT INTO kv1 VALUES (1, 0);
    CREATE TABLE kv2 (id int PRIMARY KEY, v int NOT NULL); INSERT INTO kv2 VALUES (1, 0);`);
});
afterAll(async () => {
  await tp?.close();
  await sql(pair.legacyUrl, `ALTER DATABASE ${pair.name} RESET default_transaction_isolation`);
});

/**
 * Ten rounds of A and B, each updating its own table's row: the failures each saw, by SQLSTATE. `between`: run at
 * each step (the drainer draining, beside them).
 */
async function rounds(url: string, begin: string, write: (c: pg.Client, id: number) => Promise<unknown>, between: () => Promise<unknown> = async () => undefined): Promise<string[]> {
  const a = new pg.Client({ connectionString: url });
  const b = new pg.Client({ connectionString: url });
  await a.connect();
  await b.connect();
  const failed: string[] = [];
  try {
    for (let i = 0; i < 10; i++) {
      try {
        await a.query(begin);
        await b.query(begin);
        await write(a, 1);
        await between();
        await write(b, 2);
        await between();
        await a.query('COMMIT');
        await between();
        await b.query('COMMIT');
        await between();
      } catch (e) {
        failed.push((e as { code?: string }).code ?? String(e));
        await a.query('ROLLBACK');
        await b.query('ROLLBACK');
      }
    }
  } finally {
    await a.end();
    await b.end();
  }
  return failed;
}

const simple = (c: pg.Client, n: number) => c.query(`UPDATE kv${n} SET v = v + 1 WHERE id = 1`);
const extended = (c: pg.Client, n: number) => c.query(`UPDATE kv${n} SET v = v + $1 WHERE id = $2`, [1, 1]);

it.each([
  { how: 'BEGIN ISOLATION LEVEL SERIALIZABLE, simple protocol', begin: 'BEGIN ISOLATION LEVEL SERIALIZABLE', write: simple },
  { how: 'BEGIN ISOLATION LEVEL SERIALIZABLE, extended protocol', begin: 'BEGIN ISOLATION LEVEL SERIALIZABLE', write: extended },
])('$how: disjoint writers commit through the proxy as directly', async ({ begin, write }) => {
  tp ??= await mirroringProxy(pair);
  expect(await rounds(pair.legacyUrl, begin, write)).toEqual([]);
  expect(await rounds(tp.url(pair.name), begin, write)).toEqual([]);
  await tp.proxy.drainer!.flush();
  expect((await compareDatabases(pair.legacyUrl, pair.targetUrl, ['public.kv1', 'public.kv2'])).filter((d) => !d.equal)).toEqual([]);
});

it('SERIALIZABLE by the database default, a plain BEGIN: disjoint writers commit through the proxy as directly', async () => {
  await sql(pair.legacyUrl, `ALTER DATABASE ${pair.name} SET default_transaction_isolation = 'serializable'`);
  // a proxy of its own: the source's defaults for this start-up not cached from before
  await tp?.close();
  tp = await mirroringProxy(pair);
  expect(await rounds(pair.legacyUrl, 'BEGIN', extended)).toEqual([]);
  expect(await rounds(tp.url(pair.name), 'BEGIN', extended)).toEqual([]);
  await tp.proxy.drainer!.flush();
  expect((await compareDatabases(pair.legacyUrl, pair.targetUrl, ['public.kv1', 'public.kv2'])).filter((d) => !d.equal)).toEqual([]);
});

it('SERIALIZABLE by the database default: the tool\'s own sessions (the drainer\'s among them) run READ COMMITTED, writers straight on the source beside it commit', async () => {
  await sql(pair.legacyUrl, `ALTER DATABASE ${pair.name} SET default_transaction_isolation = 'serializable'`);
  const own = new pg.Client(pgClientConfig(pair.legacyUrl));
  await own.connect();
  try {
    expect((await own.query('SHOW transaction_isolation')).rows).toEqual([{ transaction_isolation: 'read committed' }]);
  } finally {
    await own.end();
  }
  await tp?.close();
  tp = await mirroringProxy(pair);
  const drainer = tp.proxy.drainer!;
  // the drainer drains what they wrote between their steps
  expect(await rounds(pair.legacyUrl, 'BEGIN', extended, () => drainer.flush())).toEqual([]);
  await drainer.flush();
  expect((await compareDatabases(pair.legacyUrl, pair.targetUrl, ['public.kv1', 'public.kv2'])).filter((d) => !d.equal)).toEqual([]);
});
