// The error-rate gate counts every failure of the new database against the
// requests it judges them by. A routed read whose session to the new database
// could not be opened counted as an error but not as a request: with the new
// database refusing connections the gate said "30 of 0 requests" (in a busy
// window, "880 of 878"). Such a read is a request that failed: both counts move.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair } from '../mirror/mirrored-pair.ts';
import { startControlledProxy, walkToFullReads, type ControlledProxy } from './controlled-proxy.ts';

let pair: DbPair;
let cp: ControlledProxy;
const adminOfTarget = () => {
  const u = new URL(pair.targetUrl);
  u.pathname = '/postgres';
  return u.toString();
};

beforeAll(async () => {
  pair = await mirroredPair('gate_error_count', 'CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, \'a\');');
  cp = await startControlledProxy({ source: pair.legacyUrl, target: pair.targetUrl, targetSessions: 0 });
  for (let i = 0; i < 50 && !cp.live.get().mirroring; i++) await new Promise((r) => setTimeout(r, 100));
  await walkToFullReads(cp);
});
afterAll(async () => {
  await cp?.close();
  await sql(adminOfTarget(), `ALTER DATABASE ${pair.name} ALLOW_CONNECTIONS true`).catch(() => undefined);
});

it('a read that cannot open its session to the new database is a failed request: the rollback says N of N requests', async () => {
  await sql(adminOfTarget(), `ALTER DATABASE ${pair.name} ALLOW_CONNECTIONS false`);
  // each client a session of its own, which must open its own connection to the new database
  for (let i = 0; i < 30; i++) {
    const c = new pg.Client({ connectionString: cp.url(pair.name) });
    await c.connect();
    try {
      expect((await c.query('SELECT v FROM items WHERE id = 1')).rows).toEqual([{ v: 'a' }]);
    } finally {
      await c.end();
    }
  }
  // the gate watcher rolls reads back on the breach, and its reason quotes the gate
  let reason: string | undefined;
  for (let i = 0; i < 100 && !reason; i++) {
    const s = await cp.api('GET', '/status');
    reason = (s.json.history as { what: string; to: string; reason: string }[]).find((h) => h.what === 'phase' && h.to === 'ROLLED_BACK')?.reason;
    if (!reason) await new Promise((r) => setTimeout(r, 100));
  }
  expect(reason).toMatch(/^gate errorRate failed at 100 %: target error rate 100\.0 % \((\d+) of \1 requests, \1 of them reads that could not open a session\); limit 1\.0 %$/);
});
