// A column added while mirroring, with DDL let through (allowDdl): the
// applier's statements, built once per table, wrote the columns the target
// had when they were built, so the new column's values never reached the
// mirror, without a word. They are built again when a row names a column they
// lack; a column the target does not have yet fails the apply (keys dirty,
// reads stopped) until it is added there, and the drainer re-syncs then. One
// added to the target first is left alone by rows that do not name it.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { expectConverged, mirroredPair } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;
let c: pg.Client;

beforeAll(async () => {
  pair = await mirroredPair('mirror_ddl_columns', `CREATE TABLE items (id int PRIMARY KEY, a text)`);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 0, allowDdl: true });
  c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
});
afterAll(async () => {
  await c?.end();
  await tp?.close();
});

const onTarget = async (id: number) => (await sql(pair.targetUrl, `SELECT * FROM items WHERE id = ${id}`)).rows[0];

describe('a column added while mirroring', () => {
  it('added on the target first, NOT NULL with a default: rows that do not name it yet leave it alone', async () => {
    await sql(pair.targetUrl, `ALTER TABLE items ADD COLUMN flags int NOT NULL DEFAULT 7`);
    // the applier builds its statements for items at this first apply, from the target's columns, flags among them
    await c.query(`INSERT INTO items VALUES (1, 'before')`);
    expect(await onTarget(1)).toMatchObject({ a: 'before', flags: 7 });
    await sql(pair.targetUrl, `UPDATE items SET flags = 9 WHERE id = 1`); // as the source will have it after its own ALTER and UPDATE
    await c.query(`INSERT INTO items VALUES (4, 'target first')`);
    await c.query(`UPDATE items SET a = 'touched' WHERE id = 1`);
    expect(tp.live.get().tripped).toBeNull();
    expect(await onTarget(4)).toMatchObject({ a: 'target first', flags: 7 });
    expect(await onTarget(1)).toMatchObject({ a: 'touched', flags: 9 });
    await c.query(`ALTER TABLE items ADD COLUMN flags int NOT NULL DEFAULT 7`);
    await c.query(`UPDATE items SET flags = 9 WHERE id = 1`);
    await c.query(`UPDATE items SET flags = 8 WHERE id = 4`);
    expect((await onTarget(4)).flags).toBe(8);
    await expectConverged(tp.proxy.drainer!, pair, ['public.items']);
  });

  it('added on both sides: its values reach the mirror', async () => {
    await c.query('ALTER TABLE items ADD COLUMN b text');
    await sql(pair.targetUrl, 'ALTER TABLE items ADD COLUMN b text');
    await c.query(`INSERT INTO items (id, a, b) VALUES (2, 'after', 'new column')`);
    await c.query(`UPDATE items SET b = 'set later' WHERE id = 1`);
    expect(await onTarget(2)).toMatchObject({ id: 2, a: 'after', b: 'new column' });
    expect(await onTarget(1)).toMatchObject({ id: 1, b: 'set later' });
    expect(tp.live.get().tripped).toBeNull();
    await expectConverged(tp.proxy.drainer!, pair, ['public.items']);
  });

  it('added on the source only: the write goes on, the mirror refuses to lose it, and catches up once the target has it', async () => {
    await c.query('ALTER TABLE items ADD COLUMN n int');
    await c.query(`INSERT INTO items (id, a, n) VALUES (3, 'source only', 42)`);
    expect((await sql(pair.legacyUrl, 'SELECT n FROM items WHERE id = 3')).rows[0].n).toBe(42);
    expect(tp.live.get().tripped).toMatch(/mirror write failed/);
    expect(tp.proxy.guard!.stats.dirtyKeys).toBeGreaterThan(0);
    await sql(pair.targetUrl, 'ALTER TABLE items ADD COLUMN n int');
    await expectConverged(tp.proxy.drainer!, pair, ['public.items']);
    expect((await onTarget(3)).n).toBe(42);
  });
});
