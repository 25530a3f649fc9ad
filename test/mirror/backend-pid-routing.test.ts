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
