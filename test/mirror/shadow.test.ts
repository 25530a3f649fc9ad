import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import { shadowStats } from '../../proxy/shadow.ts';
import { mirroredPair } from './mirrored-pair.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;
const SCHEMA = `CREATE TABLE docs (id int PRIMARY KEY, title text NOT NULL); INSERT INTO docs SELECT g, 'doc ' || g FROM generate_series(1, 50) g;`;

beforeAll(async () => {
  pair = await mirroredPair('mirror_shadow', SCHEMA);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 0, shadowSample: 1 });
});
afterAll(async () => {
  await tp?.close();
});

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
}

describe('shadow reads', () => {
  it('match while both sides agree, and catch a row changed by hand on the target', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    const base = { ...shadowStats };
    for (let i = 0; i < 20; i++) await c.query('SELECT id, title FROM docs WHERE id <= 10');
    await settle();
    expect(shadowStats.matches - base.matches).toBe(20);
    expect(shadowStats.mismatches - base.mismatches).toBe(0);

    await sql(pair.targetUrl, "UPDATE docs SET title = 'tampered' WHERE id = 3");
    for (let i = 0; i < 5; i++) {
      const r = await c.query('SELECT id, title FROM docs WHERE id <= 10');
      // the client is answered by the source of truth
      expect(r.rows.find((x) => x.id === 3).title).toBe('doc 3');
    }
    await c.query({ text: 'SELECT title FROM docs WHERE id = $1', values: [3] });
    await settle();
    expect(shadowStats.mismatches - base.mismatches).toBe(6);
    await c.end();
  });

  it('compare an ORDER BY by its keys: rows with equal keys may come in another order, a changed row is still caught', async () => {
    // the same rows on both sides, stored in opposite orders: ties in cat come back in different orders
    await sql(pair.legacyUrl, `CREATE TABLE tags (id int PRIMARY KEY, cat text NOT NULL, label text); INSERT INTO tags SELECT g, 'c' || (g % 3), 'tag ' || g FROM generate_series(1, 60) g`);
    await sql(pair.targetUrl, `CREATE TABLE tags (id int PRIMARY KEY, cat text NOT NULL, label text); INSERT INTO tags SELECT g, 'c' || (g % 3), 'tag ' || g FROM generate_series(60, 1, -1) g`);
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      const base = { ...shadowStats };
      const queries = ['SELECT id, cat, label FROM tags ORDER BY cat', 'SELECT label, cat FROM tags ORDER BY 2 DESC', 'SELECT * FROM tags ORDER BY cat, label'];
      for (const text of queries) await c.query(text);
      await c.query({ text: 'SELECT id, cat FROM tags WHERE id > $1 ORDER BY cat', values: [0] });
      await settle();
      expect(shadowStats.mismatches - base.mismatches).toBe(0);
      expect(shadowStats.matches - base.matches).toBe(4);
      await sql(pair.targetUrl, `UPDATE tags SET label = 'tampered' WHERE id = 7`);
      await c.query(queries[0]!);
      await c.query(queries[1]!);
      await settle();
      expect(shadowStats.mismatches - base.mismatches).toBe(2);
    } finally {
      await c.end();
    }
  });

  it('compare floating-point values to 12 significant digits: sums over rows stored in another order differ in the last bits', async () => {
    await sql(pair.legacyUrl, `CREATE TABLE m (id int PRIMARY KEY, x float8, y real); INSERT INTO m SELECT g, 1.0 / g, 1.0 / g FROM generate_series(1, 2000) g`);
    await sql(pair.targetUrl, `CREATE TABLE m (id int PRIMARY KEY, x float8, y real); INSERT INTO m SELECT g, 1.0 / g, 1.0 / g FROM generate_series(2000, 1, -1) g`);
    const text = 'SELECT sum(x) AS s, avg(x) AS a, stddev(x) AS d, sum(y) AS t FROM m';
    const [onSource, onTarget] = [(await sql(pair.legacyUrl, text)).rows[0], (await sql(pair.targetUrl, text)).rows[0]];
    // the premise: the servers' own answers differ
    expect(onSource).not.toEqual(onTarget);
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      const base = { ...shadowStats };
      await c.query(text);
      // binary results too (node-postgres's `binary`, not in its types)
      await c.query({ text: 'SELECT sum(x) AS s FROM m WHERE id > $1', values: [0], binary: true } as pg.QueryConfig);
      await settle();
      expect(shadowStats.mismatches - base.mismatches).toBe(0);
      expect(shadowStats.matches - base.matches).toBe(2);
      // a value changed in its 10th digit is a difference
      await sql(pair.targetUrl, 'UPDATE m SET x = x * (1 + 1e-10) WHERE id = 5');
      await c.query('SELECT id, x FROM m WHERE id < 10');
      await settle();
      expect(shadowStats.mismatches - base.mismatches).toBe(1);
    } finally {
      await c.end();
    }
  });

  it('leave out reads whose answer differs between two runs over the same rows: no false mismatch to trip the gate', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      const unstable = [
        'SELECT random()',
        'SELECT now(), count(*) FROM docs WHERE id > 10',
        'SELECT CURRENT_TIMESTAMP',
        'SELECT gen_random_uuid()',
        'SELECT clock_timestamp() FROM docs WHERE id = 11',
        'SELECT id FROM docs WHERE id > 10 LIMIT 5',
        'SELECT id FROM docs WHERE id > 10 OFFSET 30',
        'SELECT array_agg(title) FROM docs WHERE id > 10',
        'SELECT row_number() OVER (), title FROM docs WHERE id > 10',
        'SELECT * FROM docs TABLESAMPLE SYSTEM (50) WHERE id > 10',
        'SELECT DISTINCT ON (id > 20) title FROM docs WHERE id > 10',
        'SELECT title FROM docs WHERE id IN (SELECT id FROM docs WHERE id > 10 LIMIT 3)',
        `SELECT current_setting('port')`,
        'EXPLAIN (ANALYZE) SELECT * FROM docs WHERE id > 10',
      ];
      const base = { ...shadowStats };
      for (const text of unstable) await c.query(text);
      await c.query({ text: 'SELECT random() < $1 AS r', values: [2] });
      await settle();
      expect(shadowStats.mismatches - base.mismatches).toBe(0);
      expect(shadowStats.matches - base.matches).toBe(0);
      // their stable forms are compared as ever
      const stable = [
        `SELECT count(*) FROM docs WHERE id > 10 AND now() > '2000-01-01'`,
        'SELECT id FROM docs WHERE id > 10 ORDER BY id LIMIT 5',
        'SELECT array_agg(title ORDER BY id) FROM docs WHERE id > 10',
        'SELECT row_number() OVER (ORDER BY id), title FROM docs WHERE id > 10',
        'SELECT DISTINCT title FROM docs WHERE id > 10',
      ];
      for (const text of stable) await c.query(text);
      await settle();
      expect(shadowStats.matches - base.matches).toBe(stable.length);
      expect(shadowStats.mismatches - base.mismatches).toBe(0);
    } finally {
      await c.end();
    }
  });
});
