// NOTIFY while mirroring: the proxy wraps it in a transaction of its own, so the
// server sends the NotificationResponse inside the answer to the proxy's COMMIT.
// A listening session must still get it, its own NOTIFY included, as on a direct
// connection (found by node-postgres's suite through the proxy).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { type DbPair } from '../harness/databases.ts';
import { mirroredPair } from './mirrored-pair.ts';
import { bind, exchangeAfterLogin, execute, parse, query, sync } from '../proxy/raw-wire.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_notify', 'CREATE TABLE t (id int PRIMARY KEY);');
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
});
afterAll(async () => {
  await tp?.close();
});

function nextNotification(c: pg.Client): Promise<pg.Notification> {
  return new Promise((resolve) => c.once('notification', resolve));
}

describe('LISTEN/NOTIFY while mirroring', () => {
  it('the notifying session and another listener both hear an autocommit NOTIFY', { timeout: 15_000 }, async () => {
    const a = new pg.Client({ connectionString: tp.url(pair.name) });
    const b = new pg.Client({ connectionString: tp.url(pair.name) });
    await Promise.all([a.connect(), b.connect()]);
    try {
      await a.query('LISTEN ping');
      await b.query('LISTEN ping');
      const heardByA = nextNotification(a);
      const heardByB = nextNotification(b);
      await a.query("NOTIFY ping, 'hello'");
      const timeout = new Promise<string>((r) => setTimeout(() => r('no notification'), 3_000));
      expect(await Promise.race([heardByA, timeout])).toMatchObject({ channel: 'ping', payload: 'hello' });
      expect(await Promise.race([heardByB, timeout])).toMatchObject({ channel: 'ping', payload: 'hello' });
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('a NOTIFY inside an explicit transaction arrives with its COMMIT', { timeout: 15_000 }, async () => {
    const a = new pg.Client({ connectionString: tp.url(pair.name) });
    await a.connect();
    try {
      await a.query('LISTEN tx_ping');
      const heard = nextNotification(a);
      await a.query('BEGIN');
      await a.query("SELECT pg_notify('tx_ping', 'in-tx')");
      await a.query('INSERT INTO t VALUES (1)');
      await a.query('COMMIT');
      const timeout = new Promise<string>((r) => setTimeout(() => r('no notification'), 3_000));
      expect(await Promise.race([heard, timeout])).toMatchObject({ channel: 'tx_ping', payload: 'in-tx' });
    } finally {
      await a.end();
    }
  });

  // PostgreSQL sends a session its own notification at the commit, after the NOTIFY's CommandComplete and
  // before ReadyForQuery; the proxy sent it ahead of the CommandComplete it held until its own COMMIT
  it.each([
    ['a Query', [query("NOTIFY own, 'q'")]],
    ['the extended protocol', [parse("NOTIFY own, 'x'"), bind(), execute(), sync()]],
    ['pg_notify() in a write', [query("INSERT INTO t SELECT coalesce(max(id), 0) + 1 FROM t, pg_notify('own', 'w')")]],
  ])('its own autocommit NOTIFY by %s: the notification after the CommandComplete, before ReadyForQuery, as directly', async (_, notify) => {
    const messages = [query('LISTEN own'), ...notify];
    const direct = await exchangeAfterLogin(pair.legacyUrl, messages, 2);
    expect(direct).toMatch(/C:LISTEN Z:I .*C:[A-Z 0-9]+ A Z:I$/);
    expect(await exchangeAfterLogin(tp.url(pair.name), messages, 2)).toBe(direct);
  });
});
