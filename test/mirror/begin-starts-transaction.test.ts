// While mirroring, the proxy answers a plain BEGIN at once and sends it with the
// client's next request. A client that then waits (a user's think time, a job
// between statements) must still be in a transaction on the server: directly,
// pg_stat_activity shows it `idle in transaction` and its
// idle_in_transaction_session_timeout ends the session (found by porting
// node-postgres's idle_in_transaction_session_timeout test through the proxy).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_begin_starts', 'CREATE TABLE t (id int PRIMARY KEY);');
  tp = await mirroringProxy(pair);
});
afterAll(async () => {
  await tp?.close();
});

async function sourceState(pid: number): Promise<string | null> {
  const r = await sql(pair.legacyUrl, 'SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]);
  return (r.rows[0]?.state as string | undefined) ?? null;
}

describe('a plain BEGIN through a mirroring proxy', () => {
  it('opens the transaction on the source while the client waits', { timeout: 20_000 }, async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    c.on('error', () => undefined);
    await c.connect();
    try {
      await c.query('BEGIN');
      const pid = (c as unknown as { processID: number }).processID;
      let state: string | null = null;
      for (let i = 0; i < 50 && state !== 'idle in transaction'; i++) {
        state = await sourceState(pid);
        if (state !== 'idle in transaction') await new Promise((r) => setTimeout(r, 100));
      }
      expect(state).toBe('idle in transaction');
      await c.query('INSERT INTO t VALUES (1)');
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    expect((await sql(pair.targetUrl, 'SELECT id FROM t')).rows).toEqual([{ id: 1 }]);
  });

  it('lets idle_in_transaction_session_timeout end the session, as directly', { timeout: 20_000 }, async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name), idle_in_transaction_session_timeout: 200 } as pg.ClientConfig);
    const ended = new Promise<string>((resolve) => {
      c.on('error', (e) => resolve(e.message));
      c.on('end', () => resolve('end'));
    });
    await c.connect();
    await c.query('BEGIN');
    const outcome = await Promise.race([ended, new Promise<string>((r) => setTimeout(() => r('still open'), 10_000))]);
    expect(outcome).not.toBe('still open');
    await c.end().catch(() => undefined);
  });
});
