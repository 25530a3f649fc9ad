// A schema a real application has and a tidy test does not: identifiers that
// need quoting (mixed case, spaces, quotes, reserved words, another schema),
// composite and text keys, and values that round-trip badly through careless
// text handling (NaN and infinities, arrays, jsonb, enums, domains, bytea,
// ranges, intervals, identity and generated columns, NULLs everywhere).
// Written through the mirroring proxy and out of band (the drainer); both
// databases equal afterwards.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair } from './mirrored-pair.ts';

const SCHEMA = `
  CREATE SCHEMA "Odd Schema";
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE DOMAIN posint AS int CHECK (VALUE > 0);
  CREATE TABLE "Odd Schema"."Weird ""Table"" Name" (
    "Key Part" text,
    "order" int,
    "select" numeric,
    "user" float8,
    tags text[],
    doc jsonb,
    feeling mood,
    n posint,
    raw bytea,
    span int4range,
    wait interval,
    seen timestamptz,
    PRIMARY KEY ("Key Part", "order")
  );
  CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text, twice int GENERATED ALWAYS AS (length(v) * 2) STORED);
`;
const TABLES = ['"Odd Schema"."Weird ""Table"" Name"', 'public.ident'];
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_odd_schema', SCHEMA);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
});
afterAll(async () => {
  await tp?.close();
});

const INSERT = `INSERT INTO "Odd Schema"."Weird ""Table"" Name" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`;
const rows: unknown[][] = [
  ['a', 1, 'NaN', Number.POSITIVE_INFINITY, ['x', 'y,z', '"q"', null], { a: [1, 'two', null], 'k"ey': '\\u0000-free \\\\ text' }, 'happy', 7, Buffer.from([0, 1, 2, 255]), '[1,10)', '1 day 02:03:04.5', 'infinity'],
  ['a', 2, '-0.000000000000000000001', Number.NEGATIVE_INFINITY, [], {}, 'sad', null, Buffer.alloc(0), 'empty', '-1 year', '-infinity'],
  ["b'; DROP TABLE x; --", -2147483648, '123456789012345678901234567890.123456789', Number.NaN, null, null, null, 1, null, null, null, '2000-01-01 00:00:00.123456+00'],
  ['ünïcødé 🚀', 0, '0', 5e-324, ['🚀'], { emoji: '🚀', nested: { deep: [[[]]] } }, 'ok', 2147483647, Buffer.from('🚀'), '(,)', '0', null],
];

describe('an odd schema through the mirroring proxy', () => {
  it('quoted identifiers, composite text keys, special values, identity and generated columns: both databases equal', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      for (const r of rows) await c.query(INSERT, r.map((v) => (v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) ? JSON.stringify(v) : v)));
      await c.query(`UPDATE "Odd Schema"."Weird ""Table"" Name" SET "select" = "select" + 1, tags = tags || '{new}' WHERE "Key Part" = 'a'`);
      // a key update: the old key goes, the new one comes
      await c.query(`UPDATE "Odd Schema"."Weird ""Table"" Name" SET "order" = 3 WHERE "Key Part" = 'a' AND "order" = 2`);
      await c.query('BEGIN');
      await c.query(`DELETE FROM "Odd Schema"."Weird ""Table"" Name" WHERE "order" = 0`);
      await c.query(`INSERT INTO "Odd Schema"."Weird ""Table"" Name" ("Key Part", "order") VALUES ('c', 0)`);
      await c.query('COMMIT');
      await c.query(`INSERT INTO ident (v) VALUES ('one'), ('three'), (NULL)`);
      await c.query(`UPDATE ident SET v = v || '!' WHERE v IS NOT NULL`);
    } finally {
      await c.end();
    }
    // out of band: the drainer brings these over
    await sql(pair.legacyUrl, `INSERT INTO ident (v) VALUES ('beside the proxy')`);
    await sql(pair.legacyUrl, `UPDATE "Odd Schema"."Weird ""Table"" Name" SET doc = '{"by": "psql"}' WHERE "Key Part" = 'c'`);
    await tp.proxy.drainer!.flush();

    const diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, TABLES);
    expect(diffs.filter((d) => !d.equal)).toEqual([]);
    expect(diffs.map((d) => d.rows[0])).toEqual([4, 4]);
    const onTarget = await sql(pair.targetUrl, `SELECT "select"::text, "user"::text, seen::text FROM "Odd Schema"."Weird ""Table"" Name" WHERE "Key Part" = 'a' ORDER BY "order"`);
    expect(onTarget.rows).toEqual([{ select: 'NaN', user: 'Infinity', seen: 'infinity' }, { select: '0.999999999999999999999', user: '-Infinity', seen: '-infinity' }]);
    const ident = await sql(pair.targetUrl, 'SELECT id, v, twice FROM ident ORDER BY id');
    expect(ident.rows).toEqual([{ id: 1, v: 'one!', twice: 8 }, { id: 2, v: 'three!', twice: 12 }, { id: 3, v: null, twice: null }, { id: 4, v: 'beside the proxy', twice: 32 }]);
  }, 60_000);
});
