import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { databasePair, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from './proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await databasePair('proxy_node_pg');
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
});
afterAll(async () => {
  await tp?.close();
});

describe('node-postgres through the proxy', () => {
  it('runs queries, multi-statement simple queries and transactions', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      await c.query('CREATE TABLE t (id serial PRIMARY KEY, v text)');
      const multi = await c.query("INSERT INTO t (v) VALUES ('a'); INSERT INTO t (v) VALUES ('b'); SELECT count(*)::int AS n FROM t");
      expect(Array.isArray(multi)).toBe(true);
      expect((multi as unknown as pg.QueryResult[])[2]!.rows[0].n).toBe(2);
      await c.query('BEGIN');
      await c.query("INSERT INTO t (v) VALUES ('c')");
      await c.query('ROLLBACK');
      const r = await c.query('SELECT v FROM t ORDER BY id');
      expect(r.rows.map((x) => x.v)).toEqual(['a', 'b']);
      const p = await c.query({ name: 'by-id', text: 'SELECT v FROM t WHERE id = $1', values: [2] });
      expect(p.rows[0].v).toBe('b');
      const again = await c.query({ name: 'by-id', text: 'SELECT v FROM t WHERE id = $1', values: [1] });
      expect(again.rows[0].v).toBe('a');
      await expect(c.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
      // the session keeps working after an error
      expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    } finally {
      await c.end();
    }
  });
});
