import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import client from 'prom-client';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair } from './mirrored-pair.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;
const SCHEMA = `
  CREATE SCHEMA app;
  CREATE TABLE app.items (id int PRIMARY KEY, name text NOT NULL);
  INSERT INTO app.items SELECT g, 'item ' || g FROM generate_series(1, 100) g;
  CREATE MATERIALIZED VIEW app.item_count AS SELECT count(*)::int AS n FROM app.items;
  CREATE SEQUENCE app.tickets;
`;

async function routed(): Promise<{ source: number; target: number }> {
  const m = await client.register.getSingleMetric('cutover_queries_total')!.get();
  const sum = (backend: string) => m.values.filter((v) => v.labels.backend === backend && v.labels.kind === 'read').reduce((a, v) => a + v.value, 0);
  return { source: sum('source'), target: sum('target') };
}

beforeAll(async () => {
  pair = await mirroredPair('mirror_read_routing', SCHEMA);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 50 });
});
afterAll(async () => {
  await tp?.close();
});

describe('read routing', () => {
  it('sends 50 ± 3 % of 10 000 reads to the target, with correct results on both sides', async () => {
    const before = await routed();
    const sqlJs = postgres(tp.url(pair.name), { max: 4, prepare: true });
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    await c.query('SET search_path = app, public');
    try {
      for (let i = 0; i < 5000; i++) {
        const id = 1 + (i % 100);
        const r = await c.query({ name: 'by-id', text: 'SELECT name FROM items WHERE id = $1', values: [id] });
        expect(r.rows[0].name).toBe(`item ${id}`);
      }
      const results = await Promise.all(Array.from({ length: 5000 }, (_, i) => sqlJs`SELECT name FROM app.items WHERE id = ${1 + (i % 100)}`));
      results.forEach((r, i) => expect(r[0]!.name).toBe(`item ${1 + (i % 100)}`));
    } finally {
      await c.end();
      await sqlJs.end();
    }
    const after = await routed();
    const target = after.target - before.target;
    const total = target + (after.source - before.source);
    console.info(`reads at 50 %: ${target} of ${total} served by the target (${((100 * target) / total).toFixed(2)} %)`);
    expect(total).toBeGreaterThanOrEqual(10_000);
    expect(target / total).toBeGreaterThan(0.47);
    expect(target / total).toBeLessThan(0.53);
  });

  it('a SET sent in one string with a write follows the session to the target', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      // one simple Query: a write string, whose SET must still reach every backend the session uses
      await c.query(`SET search_path = app, public; INSERT INTO items VALUES (1001, 'item 1001')`);
      const targetPort = (await sql(pair.targetUrl, `SELECT current_setting('port') AS p`)).rows[0].p as string;
      const seen = { target: 0, source: 0 };
      for (let i = 0; i < 200; i++) {
        const r = await c.query(`SELECT current_setting('search_path') AS sp, current_setting('port') AS port, (SELECT name FROM items WHERE id = 1001) AS name`);
        expect(r.rows[0]).toMatchObject({ sp: 'app, public', name: 'item 1001' });
        seen[r.rows[0].port === targetPort ? 'target' : 'source']++;
      }
      // both sides answered, each with the session's search_path
      expect(seen.target).toBeGreaterThan(50);
      expect(seen.source).toBeGreaterThan(50);
    } finally {
      await c.end();
    }
  });

  it('a SET inside a transaction block reaches the target only if the block commits', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      const targetPort = (await sql(pair.targetUrl, `SELECT current_setting('port') AS p`)).rows[0].p as string;
      const paths = async () => {
        const seen = { target: new Set<string>(), source: new Set<string>() };
        for (let i = 0; i < 100; i++) {
          const r = (await c.query(`SELECT current_setting('search_path') AS sp, current_setting('port') AS port`)).rows[0];
          seen[r.port === targetPort ? 'target' : 'source'].add(r.sp);
        }
        return { target: [...seen.target], source: [...seen.source] };
      };
      await c.query('BEGIN');
      await c.query('SET search_path = app, public');
      await c.query('ROLLBACK');
      await c.query(`BEGIN; SET statement_timeout = '7s'; ROLLBACK`);
      expect(await paths()).toEqual({ target: ['"$user", public'], source: ['"$user", public'] });
      expect((await c.query(`SELECT current_setting('statement_timeout') AS t`)).rows[0].t).toBe('0');
      await c.query('BEGIN');
      await c.query('SET search_path = app, public');
      await c.query('COMMIT');
      expect(await paths()).toEqual({ target: ['app, public'], source: ['app, public'] });
    } finally {
      await c.end();
    }
  });

  it('keeps reads of the server\'s own catalogs and statistics on the source, unless pinned', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      const port = async (q: string) => (await c.query(q)).rows[0].port as string;
      const sourcePort = (await sql(pair.legacyUrl, `SELECT current_setting('port') AS p`)).rows[0].p as string;
      const targetPort = (await sql(pair.targetUrl, `SELECT current_setting('port') AS p`)).rows[0].p as string;
      const seen = new Set<string>();
      for (let i = 0; i < 60; i++) {
        seen.add(await port(`SELECT current_setting('port') AS port, (SELECT count(*) FROM pg_stat_activity) AS sessions`));
        seen.add(await port(`SELECT current_setting('port') AS port FROM pg_catalog.pg_class WHERE relname = 'items'`));
        seen.add(await port(`SELECT current_setting('port') AS port FROM information_schema.tables WHERE table_name = 'items'`));
      }
      expect([...seen]).toEqual([sourcePort]);
      // an application table is read from both sides; a pin still decides for a catalog read
      const app = new Set<string>();
      for (let i = 0; i < 60; i++) app.add(await port(`SELECT current_setting('port') AS port FROM app.items WHERE id = 1`));
      expect(app).toEqual(new Set([sourcePort, targetPort]));
      expect(await port(`/* cutover:target */ SELECT current_setting('port') AS port FROM pg_class LIMIT 1`)).toBe(targetPort);
    } finally {
      await c.end();
    }
  });

  it('keeps transactions, pins and cutover.route=source on the source', async () => {
    const before = await routed();
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    await c.query('BEGIN');
    for (let i = 0; i < 50; i++) await c.query('SELECT name FROM app.items WHERE id = 1');
    await c.query('COMMIT');
    for (let i = 0; i < 50; i++) await c.query('/* cutover:source */ SELECT name FROM app.items WHERE id = 2');
    await c.end();
    const after = await routed();
    expect(after.target - before.target).toBe(0);

    const viaParam = postgres(tp.url(pair.name), { max: 1, connection: { 'cutover.route': 'source' } as Record<string, string> });
    const before2 = await routed();
    for (let i = 0; i < 50; i++) await viaParam`SELECT 1 AS one`;
    await viaParam.end();
    const after2 = await routed();
    expect(after2.target - before2.target).toBe(0);
  });

  it('a read slower than the read deadline runs once, on the target, and is no failure of the target', { timeout: 30_000 }, async () => {
    tp.live.update({ readPercent: 100 });
    const fallbacks = async () => (await client.register.getSingleMetric('cutover_read_fallbacks_total')!.get()).values.reduce((a, v) => a + v.value, 0);
    // the read waits on the target for a lock held 6 s: past the 5 s deadline, seen still running there
    const holder = new pg.Client({ connectionString: pair.targetUrl });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE app.items IN ACCESS EXCLUSIVE MODE');
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      const errors = tp.proxy.guard!.stats.readErrors;
      const before = await fallbacks();
      const read = c.query('SELECT count(*)::int AS n FROM app.items');
      await new Promise((r) => setTimeout(r, 6_000));
      await holder.query('ROLLBACK');
      expect((await read).rows).toEqual((await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM app.items')).rows);
      // given up and run again on the source, it counted against the target and rolled reads back
      expect(await fallbacks()).toBe(before);
      expect(tp.proxy.guard!.stats.readErrors).toBe(errors);
      expect(tp.live.get().tripped).toBeNull();
    } finally {
      await holder.end();
      await c.end();
      tp.live.update({ readPercent: 50 });
    }
  });

  it('keeps reads of materialized views and sequences on the source: the mirror does not carry their contents', async () => {
    tp.live.update({ readPercent: 100 });
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      await c.query(`INSERT INTO app.items VALUES (5000, 'counted')`);
      await c.query('REFRESH MATERIALIZED VIEW app.item_count');
      await c.query(`SELECT nextval('app.tickets'), nextval('app.tickets')`);
      const source = (await sql(pair.legacyUrl, 'SELECT n FROM app.item_count')).rows;
      for (let i = 0; i < 10; i++) {
        expect((await c.query('SELECT n FROM app.item_count')).rows).toEqual(source);
        expect((await c.query('SELECT last_value::int AS v FROM app.tickets')).rows).toEqual([{ v: 2 }]);
      }
      // a table's reads still go to the target
      expect((await c.query('SELECT inet_server_port() AS p FROM app.items LIMIT 1 /* cutover:target */')).rows[0].p).toBe(Number(new URL(pair.targetUrl).port));
    } finally {
      await c.end();
      tp.live.update({ readPercent: 50 });
    }
  });

  it('a target-only failure is retried on the source before the client sees anything', async () => {
    // a table that exists only on the source: the target answers 42P01, the client must not
    await sql(pair.legacyUrl, 'CREATE TABLE app.source_only (id int PRIMARY KEY)');
    await sql(pair.legacyUrl, 'INSERT INTO app.source_only VALUES (1)');
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    for (let i = 0; i < 20; i++) expect((await c.query('SELECT id FROM app.source_only')).rows).toEqual([{ id: 1 }]);
    await c.end();
    // and the target's failures counted against it: the breaker keeps reads on the source now
    expect(tp.proxy.guard!.stats.readErrors).toBeGreaterThan(0);
  });
});
