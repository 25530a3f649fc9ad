// A read routed to the new database is described in the source of truth's
// object numbers (proxy/oid-map.ts): the two servers number the same table
// and type differently, and drivers look the numbers up in the source's
// catalogs (pgjdbc's column metadata, updatable result sets, custom type
// codecs). Where no match is safe the read runs on the source instead, and a
// statement whose parameter types name a user type never goes to the target.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { exchangeAfterLogin, execute, int16, int32, msg, sync } from '../proxy/raw-wire.ts';
import { installCaptureAt, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;
const SCHEMA = `CREATE TYPE mood AS ENUM ('ok', 'sad');
  CREATE TABLE enumtab (id int PRIMARY KEY, note text, m mood NOT NULL, moods mood[])`;

beforeAll(async () => {
  pair = await databasePair('oid_renumber');
  // objects only the new database has, made first: its OIDs for the same table and type differ from the source's
  await sql(pair.targetUrl, `CREATE TYPE shift AS ENUM ('x'); CREATE TABLE shift_t (a int PRIMARY KEY, b text)`);
  // a dropped column too: the new database's column numbers differ
  await sql(pair.targetUrl, `${SCHEMA}; ALTER TABLE enumtab DROP COLUMN note; ALTER TABLE enumtab ADD COLUMN note text`);
  await sql(pair.legacyUrl, SCHEMA);
  await sql(pair.legacyUrl, `INSERT INTO enumtab (id, note, m, moods) VALUES (1, 'a', 'ok', '{ok,sad}')`);
  // the same row, and one only the new database has: a read that returns it was answered there
  await sql(pair.targetUrl, `INSERT INTO enumtab (id, note, m, moods) VALUES (1, 'a', 'ok', '{ok,sad}'), (99, 'target only', 'ok', '{}')`);
  await installCaptureAt(pair.legacyUrl);
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

type Field = { tableID: number; columnID: number; dataTypeID: number };
const described = (fields: Field[]) => fields.map((f) => [f.tableID, f.columnID, f.dataTypeID]);

async function described_(url: string, config: pg.QueryConfig): Promise<{ fields: number[][]; ids: number[] }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query(config);
    return { fields: described(r.fields as Field[]), ids: r.rows.map((row: { id: number }) => row.id) };
  } finally {
    await c.end();
  }
}

it('describes a routed read with the source of truth\'s table, column and type numbers', async () => {
  const query = { text: 'SELECT id, m, moods, note FROM enumtab WHERE id > $1 ORDER BY id', values: [0] };
  const direct = await described_(pair.legacyUrl, query);
  const onTarget = await described_(pair.targetUrl, query);
  // the servers do number them differently
  expect(onTarget.fields).not.toEqual(direct.fields);
  const through = await described_(tp.url(pair.name), query);
  expect(through.ids).toEqual([1, 99]);
  expect(through.fields).toEqual(direct.fields);
});

it('reads a user type asked for in binary form on the source (its value may carry the type numbers inside)', async () => {
  const query = { text: 'SELECT id, moods FROM enumtab WHERE id > $1 ORDER BY id', values: [0], binary: true };
  const direct = await described_(pair.legacyUrl, query);
  const through = await described_(tp.url(pair.name), query);
  expect(through).toEqual(direct);
  expect(through.ids).toEqual([1]);
});

it('reads a row value or an array of them asked for in binary form on the source (each field carries its type number: psycopg 3 decoded the enum as bytes)', async () => {
  for (const text of ['SELECT id, ROW(m, note) AS r FROM enumtab WHERE id > $1 ORDER BY id', 'SELECT id, ARRAY[ROW(moods)] AS r FROM enumtab WHERE id > $1 ORDER BY id']) {
    const query = { text, values: [0], binary: true };
    const through = await described_(tp.url(pair.name), query);
    expect(through).toEqual(await described_(pair.legacyUrl, query));
    expect(through.ids).toEqual([1]);
  }
});

it('runs a statement whose parameter type is a user type on the source', async () => {
  const arrayOid = Number((await sql(pair.legacyUrl, `SELECT '_mood'::regtype::oid AS o`)).rows[0].o);
  const text = 'SELECT count(*)::int AS n FROM enumtab WHERE m = ANY ($1)';
  const value = Buffer.from('{ok,sad}');
  const messages = [msg('P', '', text, int16(1), int32(arrayOid)), msg('B', '', '', int16(0), int16(1), int32(value.length), value, int16(0)), execute(), sync()];
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, 1);
  expect(direct).toBe('1 2 D:1 C:SELECT 1 Z:I');
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, 1)).toBe(direct);
});

it('serves a table made after the proxy started from the target on its first read, the catalogs read again', async () => {
  // made on both databases, the target's first with another object before it: its numbers differ again
  await sql(pair.targetUrl, `CREATE TABLE later_shift (a int PRIMARY KEY)`);
  for (const url of [pair.targetUrl, pair.legacyUrl]) await sql(url, `CREATE TABLE later (id int PRIMARY KEY, v text)`);
  await sql(pair.targetUrl, `INSERT INTO later VALUES (7, 'target only')`);
  const query = { text: 'SELECT id, v FROM later WHERE id > $1', values: [0] };
  const through = await described_(tp.url(pair.name), query);
  expect(through.ids).toEqual([7]);
  expect(through.fields).toEqual((await described_(pair.legacyUrl, query)).fields);
});

it("answers a cast to an object-number type (regclass, regtype …) with the source's numbers and names", async () => {
  // psycopg's register_hstore and hand-written type registration ask `SELECT 'x'::regtype::oid`, then the source's catalogs
  const texts = [`SELECT 'mood'::regtype::oid AS x`, `SELECT 'enumtab'::regclass::oid::int AS x`, `SELECT CAST('mood[]' AS regtype)::int AS x`, `SELECT $1::regtype::oid AS x`];
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  try {
    for (const text of texts) {
      const values = text.includes('$1') ? ['mood'] : [];
      const direct = (await sql(pair.legacyUrl, text, values)).rows[0].x;
      expect((await sql(pair.targetUrl, text, values)).rows[0].x, text).not.toEqual(direct);
      expect((await c.query(text, values)).rows[0].x, text).toEqual(direct);
    }
    const oid = (await sql(pair.legacyUrl, `SELECT 'mood'::regtype::oid::int AS x`)).rows[0].x as number;
    expect((await c.query(`SELECT ${oid}::regtype::text AS name`)).rows[0].name).toBe('mood');
  } finally {
    await c.end();
  }
});

it("reads a row's xmin from the source: an UPDATE checked against it (EF Core's row version) finds the row", async () => {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  try {
    await c.query(`UPDATE enumtab SET note = 'v1' WHERE id = 1`);
    for (let i = 0; i < 5; i++) {
      const { xmin, ctid } = (await c.query('SELECT xmin, ctid, note FROM enumtab WHERE id = $1', [1])).rows[0];
      expect((await sql(pair.legacyUrl, 'SELECT xmin, ctid FROM enumtab WHERE id = 1')).rows[0]).toEqual({ xmin, ctid });
      const updated = await c.query('UPDATE enumtab SET note = $1 WHERE id = 1 AND xmin = $2', [`v${i + 2}`, xmin]);
      expect(updated.rowCount).toBe(1);
    }
  } finally {
    await c.end();
  }
});
