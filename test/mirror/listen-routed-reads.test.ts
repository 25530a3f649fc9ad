// A session that LISTENs hears its notifications from the source: PostgreSQL
// sends one committed before a query ahead of that query's answer, and
// clients count on it (pgconn's TestConnOnNotification: LISTEN, another
// session's NOTIFY, then SELECT 1 and the payload is expected to be there).
// With reads routed, the SELECT was answered by the new database, and its
// answer could overtake the notification still on its way from the source
// (1 run in 3 of pgconn's suite at reads 100). A listening session's reads
// now stay on the source.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('listen_routed_reads', 'CREATE TABLE side (id int PRIMARY KEY)');
  // a row the new database alone has: a read that counts it was answered there
  await sql(pair.targetUrl, 'INSERT INTO side VALUES (1)');
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

async function connected(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

it('reads of a session that listens are answered by the source, behind the notifications committed before them', async () => {
  const listener = await connected();
  const notifier = await connected();
  try {
    // routed as usual before it listens
    expect((await listener.query('SELECT count(*)::int AS n FROM side')).rows[0].n).toBe(1);
    await listener.query('LISTEN foo');
    const heard: string[] = [];
    listener.on('notification', (n) => heard.push(n.payload ?? ''));
    for (let i = 0; i < 20; i++) {
      await notifier.query(`NOTIFY foo, 'bar${i}'`);
      const r = await listener.query('SELECT count(*)::int AS n FROM side');
      expect({ n: r.rows[0].n, heard: heard.at(-1) }).toEqual({ n: 0, heard: `bar${i}` });
    }
  } finally {
    await listener.end();
    await notifier.end();
  }
});
