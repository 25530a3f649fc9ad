// A session on another database of the legacy server than the one being
// migrated (an admin tool on `postgres`, a second application database) has no
// capture under it: mirroring its writes failed every COMMIT, a read-only
// transaction's included. Such a session is the server's own, relayed as it is
// (found by postgres.js's suite, whose default database is `postgres`).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { recreateDatabase } from '../../common/local-postgres.ts';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

const OTHER = 'mirror_otherdb_side';
let pair: DbPair;
let tp: TestProxy;
let otherUrl: string;

beforeAll(async () => {
  pair = await mirroredPair('mirror_otherdb', 'CREATE TABLE t (id int PRIMARY KEY);');
  const legacy = new URL(inject('legacy').url);
  await recreateDatabase(legacy.toString(), OTHER);
  legacy.pathname = '/' + OTHER;
  otherUrl = legacy.toString();
  await sql(otherUrl, 'CREATE TABLE u (id int PRIMARY KEY)');
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

async function through(database: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: tp.url(database) });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

describe('a database the migration does not move', () => {
  it('takes transactions and writes as the server does', async () => {
    const c = await through(OTHER);
    try {
      await c.query('BEGIN');
      expect((await c.query('SELECT 1 AS x')).rows).toEqual([{ x: 1 }]);
      await c.query('COMMIT');
      expect((await c.query('INSERT INTO u VALUES (1), (2)')).rowCount).toBe(2);
      expect((await c.query("SELECT set_config('app.x', 'y', false) AS v")).rows).toEqual([{ v: 'y' }]);
      expect((await c.query('SELECT count(*)::int AS n FROM u')).rows).toEqual([{ n: 2 }]);
    } finally {
      await c.end();
    }
    expect((await sql(otherUrl, 'SELECT count(*)::int AS n FROM u')).rows).toEqual([{ n: 2 }]);
  });

  it('leaves the migrated database mirrored', async () => {
    const c = await through(pair.name);
    try {
      await c.query('INSERT INTO t VALUES (7)');
    } finally {
      await c.end();
    }
    expect((await sql(pair.targetUrl, 'SELECT id FROM t')).rows).toEqual([{ id: 7 }]);
  });
});
