// A session's temporary table is its own: no schema change, nothing to mirror.
// CREATE TEMP TABLE and a DROP of it passed while mirroring, but an ALTER TABLE
// or a CREATE INDEX of it was refused as a schema change (0A000): pg-cursor's
// own tests (ALTER TABLE of a temporary table in a transaction) failed through
// the proxy alone. So was a RENAME of it (or of its columns) and an ALTER
// SEQUENCE of a temporary sequence, and a DROP INDEX of an index on a temporary
// table; later a COMMENT ON one, and an ALTER INDEX … RENAME of its index. The
// same statements of a permanent table are still refused.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('temp_table_ddl', 'CREATE TABLE items (id int PRIMARY KEY, v text)');
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  return c;
}

it('ALTER TABLE and CREATE INDEX of the session\'s temporary table pass, in a transaction and outside one', async () => {
  const c = await client();
  try {
    await c.query('BEGIN');
    await c.query('CREATE TEMP TABLE foobar (id serial PRIMARY KEY)');
    await c.query('ALTER TABLE foobar ADD COLUMN name text');
    await c.query({ text: 'CREATE INDEX foobar_name ON foobar (name)', queryMode: 'extended' } as pg.QueryConfig);
    await c.query(`INSERT INTO foobar (name) VALUES ('in the block')`);
    await c.query('COMMIT');
    await c.query('ALTER TABLE pg_temp.foobar ADD COLUMN note text');
    await c.query(`INSERT INTO foobar (name, note) VALUES ('after', 'n')`);
    expect((await c.query('SELECT name, note FROM foobar ORDER BY id')).rows).toEqual([
      { name: 'in the block', note: null },
      { name: 'after', note: 'n' },
    ]);
  } finally {
    await c.end();
  }
});

it('RENAME of a temporary table or its column, ALTER SEQUENCE of a temporary sequence and DROP INDEX of a temporary index pass', async () => {
  const c = await client();
  try {
    await c.query('CREATE TEMP TABLE t1 (i int)');
    await c.query('CREATE TEMP SEQUENCE s1');
    await c.query('ALTER TABLE t1 RENAME TO t2');
    await c.query({ text: 'ALTER TABLE t2 RENAME COLUMN i TO j', queryMode: 'extended' } as pg.QueryConfig);
    await c.query('ALTER TABLE t2 ADD COLUMN k int');
    await c.query('ALTER SEQUENCE s1 RESTART WITH 7');
    await c.query('CREATE INDEX t2_j ON t2 (j)');
    await c.query('DROP INDEX t2_j');
    await c.query('INSERT INTO t2 (j, k) VALUES (1, 2)');
    expect((await c.query(`SELECT j, k, nextval('s1')::int AS n FROM t2`)).rows).toEqual([{ j: 1, k: 2, n: 7 }]);
    await c.query('DROP TABLE t2');
  } finally {
    await c.end();
  }
});

it('COMMENT ON a temporary table, its column or index, and ALTER INDEX … RENAME of its index pass', async () => {
  const c = await client();
  try {
    await c.query('CREATE TEMP TABLE noted (i int)');
    await c.query('CREATE INDEX noted_i ON noted (i)');
    await c.query(`COMMENT ON TABLE noted IS 'scratch rows'`);
    await c.query({ text: `COMMENT ON COLUMN pg_temp.noted.i IS 'a number'`, queryMode: 'extended' } as pg.QueryConfig);
    await c.query('ALTER INDEX noted_i RENAME TO noted_by_i');
    await c.query(`COMMENT ON INDEX noted_by_i IS 'by i'`);
    expect((await c.query(`SELECT obj_description('noted'::regclass, 'pg_class') AS t, col_description('noted'::regclass, 1) AS c, obj_description('noted_by_i'::regclass, 'pg_class') AS i`)).rows).toEqual([{ t: 'scratch rows', c: 'a number', i: 'by i' }]);
    await c.query('DROP INDEX noted_by_i');
  } finally {
    await c.end();
  }
});

it('ALTER TABLE and CREATE INDEX of a permanent table are still refused', async () => {
  const c = await client();
  try {
    await c.query('CREATE TEMP TABLE scratch (i int)');
    await expect(c.query('ALTER TABLE items ADD COLUMN sneaky int')).rejects.toMatchObject({ code: '0A000' });
    await expect(c.query('ALTER TABLE public.scratch ADD COLUMN sneaky int')).rejects.toMatchObject({ code: '0A000' });
    await expect(c.query('ALTER TABLE items RENAME TO renamed')).rejects.toMatchObject({ code: '0A000' });
    await expect(c.query('DROP INDEX items_pkey')).rejects.toMatchObject({ code: '0A000' });
    await expect(c.query(`COMMENT ON TABLE items IS 'sneaky'`)).rejects.toMatchObject({ code: '0A000' });
    await expect(c.query(`COMMENT ON COLUMN public.scratch.i IS 'sneaky'`)).rejects.toMatchObject({ code: '0A000' });
    await expect(c.query('ALTER INDEX items_pkey RENAME TO sneaky')).rejects.toMatchObject({ code: '0A000' });
    await expect(c.query({ text: 'CREATE INDEX items_v ON items (v)', queryMode: 'extended' } as pg.QueryConfig)).rejects.toMatchObject({ code: '0A000' });
  } finally {
    await c.end();
  }
  const columns = await sql(pair.legacyUrl, `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'sneaky'`);
  expect(columns.rows[0].n).toBe(0);
});
