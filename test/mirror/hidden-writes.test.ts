// A read by its text that writes by what it reaches: a view over a function
// that inserts, a sequence called through a view. Routed to the target, the
// write must not happen there (a row the source never had); the read runs on
// the source instead, where the write is captured and mirrored like any
// change made outside the proxy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { sql, type DbPair } from '../harness/databases.ts';
import { expectConverged, mirroredPair, mirroringProxy } from './mirrored-pair.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;
const SCHEMA = `
  CREATE TABLE touches (k text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
  CREATE FUNCTION touch() RETURNS text LANGUAGE sql VOLATILE AS $$ INSERT INTO touches (k) VALUES (md5(random()::text)) RETURNING k $$;
  CREATE VIEW v_touch AS SELECT touch() AS k;
  CREATE SEQUENCE tickets;
  CREATE VIEW v_ticket AS SELECT nextval('tickets') AS n;
`;

const count = async (url: string) => Number((await sql(url, 'SELECT count(*)::int AS n FROM touches')).rows[0].n);
const keys = async (url: string) => new Set((await sql(url, 'SELECT k FROM touches')).rows.map((r) => r.k as string));

/** Every row on the target is one the source has: no write happened on the target alone. */
async function expectNoPhantoms(): Promise<void> {
  const source = await keys(pair.legacyUrl);
  const phantoms = [...(await keys(pair.targetUrl))].filter((k) => !source.has(k));
  expect(phantoms).toEqual([]);
}

beforeAll(async () => {
  pair = await mirroredPair('mirror_hidden_writes', SCHEMA);
  // every read the router may send goes to the target
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

describe('writes hidden behind a read', () => {
  it('a SELECT from a view that inserts runs on the source, over both protocols and in a pipeline', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    const pjs = postgres(tp.url(pair.name), { max: 2, prepare: true, onnotice: () => undefined });
    await c.connect();
    try {
      const targetPort = (await sql(pair.targetUrl, `SELECT current_setting('port') AS p`)).rows[0].p as string;
      // reads are routed: a plain one is answered by the target
      expect((await c.query(`SELECT current_setting('port') AS p`)).rows[0].p).toBe(targetPort);
      for (let i = 0; i < 10; i++) {
        expect((await c.query('SELECT k FROM v_touch')).rows[0].k).toMatch(/^[0-9a-f]{32}$/);
        expect((await c.query({ text: 'SELECT k FROM v_touch WHERE $1::int > 0', values: [i + 1] })).rows).toHaveLength(1);
      }
      // postgres.js pipelines named statements
      const piped = await Promise.all(Array.from({ length: 10 }, (_, i) => pjs`SELECT k FROM v_touch WHERE ${i} >= 0`));
      expect(piped.every((r) => r.length === 1)).toBe(true);
      expect(await count(pair.legacyUrl)).toBe(30);
      await expectNoPhantoms();
      // a sequence reached through a view advances on the source only
      const tickets = [];
      for (let i = 0; i < 5; i++) tickets.push(Number((await c.query('SELECT n FROM v_ticket')).rows[0].n));
      expect(tickets).toEqual([1, 2, 3, 4, 5]);
      expect(Number((await sql(pair.legacyUrl, 'SELECT last_value FROM tickets')).rows[0].last_value)).toBe(5);
      // the target was not blamed for it: reads still go there
      expect(tp.live.get().tripped).toBeFalsy();
      expect((await c.query(`SELECT current_setting('port') AS p`)).rows[0].p).toBe(targetPort);
    } finally {
      await c.end();
      await pjs.end();
    }
    // the source's writes reach the target as changes made outside the proxy do
    await expectConverged(tp.proxy.drainer!, pair, ['touches']);
  });

  it("a session's own SETs cannot make the target's connection writable", async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      const before = await count(pair.legacyUrl);
      for (const set of ['SET default_transaction_read_only = off', 'RESET ALL', 'DISCARD ALL', 'SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE', 'RESET default_transaction_read_only']) {
        await c.query(set);
        expect((await c.query('SELECT k FROM v_touch')).rows).toHaveLength(1);
      }
      expect(await count(pair.legacyUrl)).toBe(before + 5);
      await expectNoPhantoms();
      // the session's own read-only default is its own: the write is refused where it belongs, as PostgreSQL would
      await c.query('SET default_transaction_read_only = on');
      await expect(c.query('SELECT k FROM v_touch')).rejects.toMatchObject({ code: '25006' });
      await c.query('SET default_transaction_read_only = off');
      expect((await c.query('SELECT k FROM v_touch')).rows).toHaveLength(1);
      expect(await count(pair.legacyUrl)).toBe(before + 6);
    } finally {
      await c.end();
    }
    await expectConverged(tp.proxy.drainer!, pair, ['touches']);
  });

  it('the session is told its own transactions are read-write, not the read connection\'s default', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      for (let i = 0; i < 10; i++) {
        expect((await c.query(`SELECT current_setting('transaction_read_only') AS ro, current_setting('default_transaction_read_only') AS d`)).rows[0]).toEqual({ ro: 'off', d: 'off' });
        expect((await c.query({ text: `SELECT pg_catalog.current_setting('transaction_read_only') AS ro WHERE $1::int > 0`, values: [i + 1] })).rows[0]).toEqual({ ro: 'off' });
        expect((await c.query('SHOW transaction_read_only')).rows[0]).toEqual({ transaction_read_only: 'off' });
      }
    } finally {
      await c.end();
    }
  });

  it("settings that describe the server (its version, encoding, data directory) are the source's", async () => {
    const text = `SELECT current_setting('data_directory') AS dir, current_setting('server_version_num') AS v, current_setting('server_encoding') AS e`;
    const direct = (await sql(pair.legacyUrl, text)).rows[0];
    expect((await sql(pair.targetUrl, text)).rows[0]).not.toEqual(direct);
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      for (let i = 0; i < 5; i++) expect((await c.query(text)).rows[0]).toEqual(direct);
      expect((await c.query(`SELECT current_setting('data_directory') AS dir WHERE $1::int > 0`, [1])).rows[0].dir).toBe(direct.dir);
    } finally {
      await c.end();
    }
  });

  it('also when another setting was read before in a text of the same shape', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      // the texts differ only in the literal: one shape, two verdicts
      expect((await c.query(`SELECT current_setting('transaction_isolation')`)).rows[0]).toEqual({ current_setting: 'read committed' });
      expect((await c.query(`SELECT current_setting('transaction_read_only')`)).rows[0]).toEqual({ current_setting: 'off' });
    } finally {
      await c.end();
    }
  });
});
