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
});
