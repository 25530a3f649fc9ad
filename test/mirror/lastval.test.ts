// lastval() after an INSERT while mirroring. PHP's PDO::lastInsertId() without
// a sequence name and Doctrine DBAL's lastInsertId() run `SELECT lastval()`:
// the capture trigger's own row in the change table must not be the last
// sequence value the session drew, or the application takes another number
// for the id of the row it just inserted.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { expectConverged, mirroredPair, mirroringProxy } from './mirrored-pair.ts';

const SCHEMA = `
  CREATE TABLE counters (k text PRIMARY KEY, v int);
  CREATE TABLE notes (id serial PRIMARY KEY, body text);
  CREATE TABLE tagged (id int PRIMARY KEY, tags int[]);
  INSERT INTO counters VALUES ('a', 1), ('b', 2), ('c', 3);
`;
const TABLES = ['public.counters', 'public.notes', 'public.tagged'];
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_lastval', SCHEMA);
  tp = await mirroringProxy(pair, { reads: 50 });
});
afterAll(async () => {
  await tp?.close();
});

async function withClient<T>(url: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

const lastval = async (c: pg.Client) => (await c.query<{ v: string; id: string }>(`SELECT lastval()::text AS v, currval('notes_id_seq')::text AS id`)).rows[0]!;

describe('lastval() while mirroring', () => {
  it('is the id the INSERT drew, autocommit and in a transaction, through the proxy and beside it', async () => {
    for (const url of [tp.url(pair.name), pair.legacyUrl]) {
      await withClient(url, async (c) => {
        // change rows before the insert: three here, and the text-column table's path
        await c.query('UPDATE counters SET v = v + 1');
        await c.query(`INSERT INTO tagged VALUES ((SELECT count(*) FROM tagged) + 1, '{1,2}')`);
        await c.query(`INSERT INTO notes (body) VALUES ('autocommit')`);
        const a = await lastval(c);
        expect(a.v).toBe(a.id);
        await c.query('BEGIN');
        await c.query('UPDATE counters SET v = v + 1');
        await c.query(`INSERT INTO notes (body) VALUES ('in a transaction')`);
        const b = await lastval(c);
        expect(b.v).toBe(b.id);
        await c.query('UPDATE counters SET v = v + 1');
        expect((await lastval(c)).v).toBe(b.id);
        await c.query('COMMIT');
        expect((await lastval(c)).v).toBe(b.id);
      });
    }
    await expectConverged(tp.proxy.drainer!, pair, TABLES);
  });

  it('a transaction that writes one key several times reaches the new database in its order', async () => {
    await withClient(tp.url(pair.name), async (c) => {
      await c.query('BEGIN');
      await c.query(`INSERT INTO counters VALUES ('x', 1)`);
      await c.query(`UPDATE counters SET k = 'y' WHERE k = 'x'`);
      await c.query(`DELETE FROM counters WHERE k = 'y'`);
      await c.query(`INSERT INTO counters VALUES ('y', 2), ('x', 3)`);
      await c.query('SAVEPOINT s');
      await c.query(`DELETE FROM counters WHERE k = 'x'`);
      await c.query('ROLLBACK TO SAVEPOINT s');
      await c.query(`UPDATE counters SET v = 4 WHERE k = 'x'`);
      await c.query('COMMIT');
    });
    expect(tp.live.get().tripped).toBeNull();
    await expectConverged(tp.proxy.drainer!, pair, TABLES);
    expect((await sql(pair.targetUrl, `SELECT k, v FROM counters WHERE k IN ('x', 'y') ORDER BY k`)).rows).toEqual([{ k: 'x', v: 4 }, { k: 'y', v: 2 }]);
  });
});

describe('change-row order within a transaction', () => {
  it('a RESET ALL between two writes of one key does not restart their numbering', async () => {
    await withClient(tp.url(pair.name), async (c) => {
      await c.query('BEGIN');
      await c.query(`INSERT INTO counters VALUES ('r1', 1)`);
      await c.query('RESET ALL');
      await c.query(`DELETE FROM counters WHERE k = 'r1'`);
      await c.query(`INSERT INTO counters VALUES ('r2', 2)`);
      await c.query('RESET ALL');
      await c.query(`UPDATE counters SET v = 3 WHERE k = 'r2'`);
      await c.query('COMMIT');
    });
    expect(tp.live.get().tripped).toBeNull();
    await expectConverged(tp.proxy.drainer!, pair, TABLES);
    expect((await sql(pair.targetUrl, `SELECT k, v FROM counters WHERE k IN ('r1', 'r2') ORDER BY k`)).rows).toEqual([{ k: 'r2', v: 3 }]);
  });
});
