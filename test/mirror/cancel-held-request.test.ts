// A cancel for a request a promote's pause holds in the proxy: the client sent
// the request, so to it the request runs. The CancelRequest went to the
// source, idle, which ignores a cancel then, and the request ran in full once
// the pause ended, where directly it fails 57014 (a driver's statement
// deadline: lib/pq's context cancel, JDBC's setQueryTimeout). The held request
// now fails 57014 without being sent, as one cancelled at its start.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { sendCancel } from '../proxy/send-cancel.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('cancel_held_request', 'CREATE TABLE items (id int PRIMARY KEY)');
  tp = await mirroringProxy(pair);
});
afterAll(async () => {
  tp?.live.update({ paused: false });
  await tp?.close();
});


const outcome = (p: Promise<unknown>) => p.then(() => 'answered', (e: { code?: string }) => e.code ?? String(e));

it.each([
  ['a simple Query', (c: pg.Client) => c.query('SELECT pg_sleep(30)')],
  ['an extended-protocol request', (c: pg.Client) => c.query('SELECT pg_sleep($1)', [30])],
])('%s cancelled while a promote pause holds it fails 57014 once let go, and the session goes on', async (_name, run) => {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  c.on('error', () => undefined);
  await c.connect();
  try {
    tp.live.update({ paused: true });
    const held = outcome(run(c));
    // time for the request to reach the proxy, which holds it
    await new Promise((r) => setTimeout(r, 300));
    await sendCancel(tp.port, c);
    tp.live.update({ paused: false });
    expect(await Promise.race([held, new Promise((r) => setTimeout(() => r('still running after 15 s'), 15_000))])).toBe('57014');
    // the cancel was spent on that request: the next one is not cancelled
    expect((await c.query('SELECT pg_sleep(0.3), 1 AS x')).rows[0].x).toBe(1);
  } finally {
    tp.live.update({ paused: false });
    await c.end().catch(() => undefined);
  }
});
