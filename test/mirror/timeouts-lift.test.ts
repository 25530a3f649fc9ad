// The proxy lifts a session's statement_timeout and
// idle_in_transaction_session_timeout around its own work in the session's
// transaction (the drain, the wait while the mirror applies), which costs the
// source three more statements per transaction. A session that starts with
// neither set and has set neither since is spared them; one whose timeouts
// come from the database's defaults (ALTER DATABASE … SET, no SET of the
// client's) is not, in its later transactions too.
import { afterEach, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { BackendLink } from '../../proxy/backend-link.ts';
import { sql, type DbPair } from '../harness/databases.ts';
import { lockedAt, mirroredPair, proxyWithoutDrainer } from './mirrored-pair.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy | undefined;
let lifts = 0;

beforeAll(async () => {
  pair = await mirroredPair('timeouts_lift', 'CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL); INSERT INTO kv SELECT g, 0 FROM generate_series(1, 10) g;');
  // every request the proxy sends that lifts a timeout (a Bind of its prepared lift, or a Query with its text), whichever link it goes on
  const request = BackendLink.prototype.request;
  BackendLink.prototype.request = function (this: BackendLink, bytes, handler) {
    const lifting = (b: Buffer) => (b[0] === 0x42 && b.includes('\0cutover:lift')) || (b[0] === 0x51 && b.includes(`set_config('statement_timeout', '0'`));
    if ((Array.isArray(bytes) ? bytes : [bytes]).some(lifting)) lifts++;
    return request.call(this, bytes, handler);
  };
});
afterEach(async () => {
  await tp?.close();
  tp = undefined;
  await sql(pair.legacyUrl, `ALTER DATABASE ${pair.name} RESET idle_in_transaction_session_timeout`);
});

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: tp!.url(pair.name) });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

it('a session with no timeouts: nothing lifted once the source has said so', async () => {
  tp = await proxyWithoutDrainer(pair);
  const c = await client();
  try {
    // the first transaction lifts them while the source is asked
    await c.query('UPDATE kv SET v = v + 1 WHERE id = 1');
    const before = lifts;
    for (let i = 0; i < 3; i++) await c.query('UPDATE kv SET v = v + 1 WHERE id = 1');
    for (let i = 0; i < 3; i++) {
      await c.query('BEGIN');
      await c.query('UPDATE kv SET v = v + $1 WHERE id = 1', [1]);
      await c.query('COMMIT');
    }
    expect(lifts - before).toBe(0);
    // a SET of the client's: lifted from then on
    await c.query(`SET statement_timeout = '10s'`);
    await c.query('UPDATE kv SET v = v + 1 WHERE id = 1');
    expect(lifts - before).toBeGreaterThan(0);
  } finally {
    await c.end();
  }
  for (const url of [pair.legacyUrl, pair.targetUrl]) expect((await sql(url, 'SELECT v FROM kv WHERE id = 1')).rows).toEqual([{ v: 8 }]);
});

it('timeouts from the database\'s defaults: every transaction whose mirror apply outlasts them commits', async () => {
  await sql(pair.legacyUrl, `ALTER DATABASE ${pair.name} SET idle_in_transaction_session_timeout = '200ms'`);
  tp = await proxyWithoutDrainer(pair);
  const c = await client();
  try {
    expect((await c.query('SHOW idle_in_transaction_session_timeout')).rows).toEqual([{ idle_in_transaction_session_timeout: '200ms' }]);
    for (let i = 1; i <= 3; i++) {
      // the row locked on the new database until well after the 200 ms
      const release = await lockedAt(pair.targetUrl, 'kv');
      const released = new Promise<void>((r) => setTimeout(() => void release().then(r), 600));
      try {
        await c.query('UPDATE kv SET v = $1 WHERE id = 2', [i]);
      } finally {
        await released;
      }
    }
  } finally {
    await c.end();
  }
  for (const url of [pair.legacyUrl, pair.targetUrl]) expect((await sql(url, 'SELECT v FROM kv WHERE id = 2')).rows).toEqual([{ v: 3 }]);
});
