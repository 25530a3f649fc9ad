// A read routed to the new database runs under the source session's
// statement_timeout and lock_timeout, not under defaults the new database has
// of its own (ALTER DATABASE … SET there): a read waiting 300 ms on a lock there
// got 57014 or 55P03 at the new database's 50 ms, where the source, with no
// limit, answered it. The table is locked on the new database until after
// those 50 ms, so the read waits past them every time.
import { afterEach, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import { lockedAt, mirroredPair, mirroringProxy } from './mirrored-pair.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy | undefined;

beforeAll(async () => {
  pair = await mirroredPair('read_limits', 'CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL); INSERT INTO kv VALUES (1, 10);');
});
afterEach(async () => {
  await tp?.close();
});

it.each(['statement_timeout', 'lock_timeout'])('a routed read outlasting the new database\'s own %s is answered from there', async (setting) => {
  await sql(pair.targetUrl, `ALTER DATABASE ${pair.name} SET ${setting} = '50ms'`);
  // a proxy of its own: no read connection kept from another case, opened under the other setting
  tp = await mirroringProxy(pair, { reads: 100 });
  tp.live.update({ phase: 'SHIFTING' });
  const proxy = tp;
  const c = new pg.Client({ connectionString: proxy.url(pair.name) });
  await c.connect();
  const release = await lockedAt(pair.targetUrl, 'kv');
  const released = new Promise<void>((r) => setTimeout(() => void release().then(r), 300));
  const reads = proxy.proxy.guard!.stats.reads;
  try {
    expect((await c.query('SELECT v FROM kv WHERE id = 1')).rows).toEqual([{ v: 10 }]);
    expect(proxy.proxy.guard!.stats.reads).toBe(reads + 1);
    expect(proxy.proxy.guard!.stats.readErrors).toBe(0);
  } finally {
    await released;
    await c.end();
    await sql(pair.targetUrl, `ALTER DATABASE ${pair.name} RESET ${setting}`);
  }
});
