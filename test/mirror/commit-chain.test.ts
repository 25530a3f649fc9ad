// COMMIT AND CHAIN (and ROLLBACK AND CHAIN) end a transaction and open the
// next at once. The proxy took them for a plain COMMIT, so the statements
// after one ran as autocommit writes: each was committed on its own (a later
// ROLLBACK undid nothing, and failed with "can only be used in transaction
// blocks"). Now the next transaction is the client's, as on PostgreSQL, in
// both query protocols; the background drainer is off, so what the new
// database has right after a COMMIT came from that COMMIT's own mirror apply.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair, proxyWithoutDrainer, refuseDrainWhenAsked } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('commit_chain', `
    CREATE TABLE t (id int PRIMARY KEY, v text);
    CREATE TABLE parent (id int PRIMARY KEY);
    CREATE TABLE child (id int PRIMARY KEY, parent int REFERENCES parent DEFERRABLE INITIALLY DEFERRED);`);
  await refuseDrainWhenAsked(pair.legacyUrl);
  tp = await proxyWithoutDrainer(pair);
});
afterAll(async () => {
  await tp?.close();
});

async function values(url: string, table = 't'): Promise<Record<number, string | null>> {
  const r = await sql(url, `SELECT id, ${table === 't' ? 'v' : 'NULL::text AS v'} FROM ${table} ORDER BY id`);
  return Object.fromEntries(r.rows.map((x: { id: number; v: string | null }) => [x.id, x.v]));
}

/** Whether the session is inside a transaction block: there now() stays at the block's start. */
async function inBlock(c: pg.Client): Promise<boolean> {
  await new Promise((r) => setTimeout(r, 5));
  const r = await c.query('SELECT now() <> statement_timestamp() AS in_block');
  return r.rows[0].in_block as boolean;
}

describe('COMMIT AND CHAIN through the mirroring proxy', () => {
  for (const mode of ['simple', 'extended'] as const) {
    it(`keeps the chained transaction the client's own (${mode} protocol)`, async () => {
      const base = mode === 'simple' ? 100 : 200;
      const c = new pg.Client({ connectionString: tp.url(pair.name) });
      await c.connect();
      // pg's queryMode (not in its types) sends even a statement without parameters as Parse/Bind/Execute
      const q = (text: string) => c.query(mode === 'simple' ? text : ({ text, queryMode: 'extended' } as pg.QueryConfig));
      try {
        await q('BEGIN');
        await q(`INSERT INTO t VALUES (${base + 1}, 'first')`);
        await q('COMMIT AND CHAIN');
        // the first transaction is on both databases; the session is in the next one
        expect(await values(pair.targetUrl)).toMatchObject({ [base + 1]: 'first' });
        expect(await inBlock(c)).toBe(true);
        await q(`INSERT INTO t VALUES (${base + 2}, 'rolled back')`);
        expect((await values(pair.legacyUrl))[base + 2]).toBeUndefined();
        await q('ROLLBACK AND CHAIN');
        expect(await inBlock(c)).toBe(true);
        await q(`UPDATE t SET v = 'third' WHERE id = ${base + 1}`);
        await q('COMMIT');
        expect(await inBlock(c)).toBe(false);
      } finally {
        await c.end();
      }
      const want = { [base + 1]: 'third' };
      expect(await values(pair.legacyUrl)).toMatchObject(want);
      expect(await values(pair.targetUrl)).toMatchObject(want);
      expect((await values(pair.legacyUrl))[base + 2]).toBeUndefined();
      expect((await values(pair.targetUrl))[base + 2]).toBeUndefined();
    });
  }

  it('opens no transaction after a COMMIT AND CHAIN that failed', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      // refused by the source at commit (a deferred foreign key): PostgreSQL chains nothing then
      await c.query('BEGIN');
      await c.query('INSERT INTO child VALUES (1, 99)');
      await expect(c.query('COMMIT AND CHAIN')).rejects.toMatchObject({ code: '23503' });
      expect(await inBlock(c)).toBe(false);
      // the mirror's drain failed before the commit: the client is told so, and is not left in a transaction
      await c.query('BEGIN');
      await c.query("SET LOCAL test.fail_drain = 'on'");
      await c.query(`INSERT INTO t VALUES (301, 'never')`);
      await expect(c.query('COMMIT AND CHAIN')).rejects.toThrow();
      expect(await inBlock(c)).toBe(false);
      // and the session's next write is an autocommit write, mirrored before its answer
      await c.query(`INSERT INTO t VALUES (302, 'after')`);
    } finally {
      await c.end();
    }
    expect(await values(pair.legacyUrl, 'child')).toEqual({});
    expect((await values(pair.legacyUrl))[301]).toBeUndefined();
    expect((await values(pair.targetUrl))[302]).toBe('after');
  });
});
