// A client may cancel a read the proxy routes to the new database before the
// read has got there: while the session's read connection opens, or while the
// proxy asks the source about the session first. The CancelRequest went to the
// source alone, idle (or running the proxy's own question), and the read then
// ran on the new database uncancelled: the client waited for its result, and
// the flaky "cancelled read routed to the target" (copy-and-cancel.test.ts)
// was this under load. The cancel is now the read's, sent where it goes.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { sendCancel } from '../proxy/send-cancel.ts';
import { freezableForwarder } from './freezable-forwarder.ts';
import { lockedAt, mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let fwd: Awaited<ReturnType<typeof freezableForwarder>>;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('cancel_before_read', 'CREATE TABLE items (id int PRIMARY KEY)');
  for (const url of [pair.legacyUrl, pair.targetUrl]) await sql(url, 'INSERT INTO items VALUES (1), (2)');
  fwd = await freezableForwarder(new URL(pair.targetUrl));
  const viaForwarder = new URL(pair.targetUrl);
  viaForwarder.port = String(fwd.port);
  tp = await mirroringProxy({ ...pair, targetUrl: viaForwarder.toString() }, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
  await fwd?.close();
});

it('a cancel sent while the read connection to the new database opens cancels the read there (57014)', async () => {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  c.on('error', () => undefined);
  await c.connect();
  // a read that reaches the new database waits there until cancelled
  const release = await lockedAt(pair.targetUrl, 'items');
  try {
    // the session's read connection cannot open yet
    fwd.freeze({ hold: true });
    const read = c.query('SELECT count(*) AS n FROM items').then(() => 'answered', (e: { code?: string }) => e.code);
    await new Promise((r) => setTimeout(r, 300));
    await sendCancel(tp.port, c);
    await new Promise((r) => setTimeout(r, 200));
    fwd.thaw();
    const outcome = await Promise.race([read, new Promise((r) => setTimeout(() => r('still running after 10 s'), 10_000))]);
    expect(outcome).toBe('57014');
    // the client's cancel: no fault of the new database
    expect(tp.live.get().tripped).toBeNull();
    expect((await c.query('SELECT 1 AS x')).rows).toEqual([{ x: 1 }]);
  } finally {
    fwd.thaw();
    await release();
    await c.end().catch(() => undefined);
  }
});
