// pg_backend_pid() names the session the client was given at login (the source
// backend's process ID): a routed read must not answer it from the target, where
// it would name another session (found by node-postgres's suite with reads at 50 %).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { type DbPair } from '../harness/databases.ts';
import { mirroredPair } from './mirrored-pair.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_backend_pid', 'CREATE TABLE t (id int PRIMARY KEY);');
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

describe('pg_backend_pid() with reads routed to the target', () => {
  it('always answers the process ID the client was given', { timeout: 15_000 }, async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      const given = (c as unknown as { processID: number }).processID;
      for (let i = 0; i < 5; i++) {
        expect(Number((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid)).toBe(given);
        expect(Number((await c.query('SELECT pg_backend_pid() AS pid WHERE $1::int > 0', [i + 1])).rows[0].pid)).toBe(given);
      }
      // the proxy still routes reads: this one is answered by the target
      expect((await c.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(0);
    } finally {
      await c.end();
    }
  });
});

describe('a sleeping read, with reads routed to the target', () => {
  // node-postgres's own suite stops a client's `SELECT pg_sleep(…)` from another session, by the process ID
  // the client has or by the query's text in pg_stat_activity: routed, it slept on the target, unseen and unstopped
  const other = async (sqlText: string, values: unknown[]) => {
    const b = new pg.Client({ connectionString: tp.url(pair.name) });
    await b.connect();
    try {
      return (await b.query(sqlText, values)).rows;
    } finally {
      await b.end();
    }
  };

  it('is stopped by pg_cancel_backend with the process ID the client was given', { timeout: 15_000 }, async () => {
    const a = new pg.Client({ connectionString: tp.url(pair.name) });
    await a.connect();
    try {
      const started = Date.now();
      const sleeping = a.query('SELECT pg_sleep(5)').then(() => 'finished', (e: { code?: string }) => e.code);
      await new Promise((r) => setTimeout(r, 300));
      expect((await other('SELECT pg_cancel_backend($1) AS ok', [(a as unknown as { processID: number }).processID]))[0].ok).toBe(true);
      expect(await sleeping).toBe('57014');
      expect(Date.now() - started).toBeLessThan(4_000);
      // the session goes on, its reads routed again
      expect((await a.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(0);
    } finally {
      await a.end();
    }
  });

  it('a named one is found in pg_stat_activity by its text and ended by pg_terminate_backend', { timeout: 15_000 }, async () => {
    const a = new pg.Client({ connectionString: tp.url(pair.name) });
    a.on('error', () => undefined);
    await a.connect();
    const sleeping = a.query({ name: 'sleep query', text: 'select pg_sleep($1)', values: [5] }).then(() => 'finished', (e: Error) => e.message);
    await new Promise((r) => setTimeout(r, 300));
    const killed = await other('SELECT pid, (SELECT pg_terminate_backend(pid)) AS killed FROM pg_stat_activity WHERE query = $1', ['select pg_sleep($1)']);
    expect(killed).toEqual([{ pid: (a as unknown as { processID: number }).processID, killed: true }]);
    expect(await sleeping).toBe('terminating connection due to administrator command');
  });
});
