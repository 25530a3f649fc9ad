// cutover schema carries a column's own collation (COLLATE "C", an ICU
// collation, one the application created): it gave every column the target
// database's default, so after cutover the application's ORDER BY came back
// in another order and a case-insensitive unique key took 'a' beside 'A'.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

it('columns keep their collations, custom ones created first; ORDER BY and uniqueness as on the source', async () => {
  const pair = await databasePair('schema_collations');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-collations-'));
  await sql(pair.legacyUrl, `
    CREATE SCHEMA app;
    CREATE COLLATION app.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
    CREATE TABLE people (id int PRIMARY KEY, name text COLLATE "en-x-icu", login text COLLATE app.ci UNIQUE, code varchar(10) COLLATE "C", plain text);
    INSERT INTO people VALUES (1, 'b', 'Bob', 'b', 'b'), (2, 'A', 'alice', 'A', 'A'), (3, 'a', 'Carol', 'a', 'a')`);
  const args = ['--source', pair.legacyUrl, '--target', pair.targetUrl, '--state', path.join(dir, 's.db'), '--report-dir', dir];
  const schema = await cli(['schema', '--apply', ...args]);
  expect(schema.stderr).toBe('');
  expect(schema.code).toBe(0);
  expect((await cli(['backfill', ...args])).code).toBe(2); // a snapshot
  const collations = `SELECT a.attname AS col, co.collname AS coll FROM pg_attribute a LEFT JOIN pg_collation co ON co.oid = a.attcollation
                       WHERE a.attrelid = 'people'::regclass AND a.attnum > 1 ORDER BY a.attnum`;
  expect((await sql(pair.targetUrl, collations)).rows).toEqual((await sql(pair.legacyUrl, collations)).rows);
  const order = `SELECT string_agg(name, '') AS n FROM (SELECT name FROM people ORDER BY name) x`;
  expect((await sql(pair.targetUrl, order)).rows[0].n).toBe('aAb');
  await expect(sql(pair.targetUrl, `INSERT INTO people VALUES (4, 'x', 'BOB', 'x', 'x')`)).rejects.toThrow(/duplicate key/);
});
