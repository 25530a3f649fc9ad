// Statements whose parse trees are deep or wide, through the mirroring proxy
// (reads at 50 %): what PostgreSQL runs, the proxy must pass on. Before
// this test, a read of 600 nested subqueries failed with XX000 "Maximum call
// stack size exceeded" (the classifier walked the parse tree recursively),
// and one Query of thousands of statements spent seconds counting each
// statement's offset from the start of the text.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { expectConverged, mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_deep', 'CREATE TABLE notes (id serial PRIMARY KEY, body text)');
  tp = await mirroringProxy(pair, { reads: 50 });
});
afterAll(async () => {
  await tp?.close();
});

const nested = (depth: number, inner: string) => `${'(SELECT '.repeat(depth)}${inner}${')'.repeat(depth)}`;

describe('deep and long statements through the mirroring proxy', () => {
  it('runs a read and a write of 600 nested subqueries as PostgreSQL does', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      for (let i = 0; i < 4; i++) expect((await c.query(`SELECT ${nested(600, String(i))} AS v`)).rows[0].v).toBe(i);
      const ins = await c.query(`INSERT INTO notes (body) SELECT ${nested(600, "'deep'")} RETURNING id`);
      expect(ins.rowCount).toBe(1);
      // the write was mirrored before its commit was answered
      expect((await sql(pair.targetUrl, 'SELECT body FROM notes')).rows).toEqual([{ body: 'deep' }]);
    } finally {
      await c.end();
    }
  });

  it('answers every statement of one Query of 5,000, writes among them, and mirrors the writes', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      const text = Array.from({ length: 2500 }, (_, i) => `SELECT 'é${i}' AS v; INSERT INTO notes (body) VALUES ('ü${i}');`).join(' ');
      const results = (await c.query(text)) as unknown as pg.QueryResult[];
      expect(results).toHaveLength(5000);
      expect(results[4998]!.rows).toEqual([{ v: 'é2499' }]);
      expect(results[4999]!.rowCount).toBe(1);
    } finally {
      await c.end();
    }
    await expectConverged(tp.proxy.drainer!, pair, ['notes']);
    expect(Number((await sql(pair.targetUrl, `SELECT count(*) AS n FROM notes WHERE body LIKE 'ü%'`)).rows[0].n)).toBe(2500);
  });
});
