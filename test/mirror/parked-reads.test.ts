// A session's read connection to the new database outlives the session, for
// the next session that starts up the same way (parked-reads.ts). Before, each
// session opened its own at its first routed read (connect, SCRAM, a server
// process: 13 ms against a read of 0.8 ms here) and closed it at its end.
// Handed on, it must carry nothing of the session before: no SET, no prepared
// statement; and never go to a session of another user.
import type { Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { query } from '../proxy/raw-wire.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;
let targetPort: string;

beforeAll(async () => {
  pair = await mirroredPair('mirror_parked_reads', `CREATE TABLE items (id int PRIMARY KEY, at timestamptz, label text)`);
  for (const url of [pair.legacyUrl, pair.targetUrl]) await sql(url, `INSERT INTO items VALUES (1, '2020-01-02 03:04:05+00', 'one'), (2, '2021-06-07 08:09:10+00', 'two')`);
  targetPort = (await sql(pair.targetUrl, `SELECT current_setting('port') AS p`)).rows[0].p as string;
  // a second user, allowed on both databases, for the test that sessions of other users share nothing
  for (const url of [pair.legacyUrl, pair.targetUrl]) {
    await sql(url, `DO $$ BEGIN CREATE ROLE parked_other LOGIN PASSWORD 'other-secret'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await sql(url, `GRANT SELECT ON items TO parked_other`);
  }
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

const RAW = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

async function session<T>(fn: (c: pg.Client) => Promise<T>, url = tp.url(pair.name), name = 'parked-test'): Promise<T> {
  const c = new pg.Client({ connectionString: url, types: RAW, application_name: name });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A routed read, answered by the new database. */
async function routedRead(c: pg.Client): Promise<void> {
  const r = await c.query(`SELECT current_setting('port') AS port, label FROM items WHERE id = 1`);
  expect(r.rows).toEqual([{ port: targetPort, label: 'one' }]);
}

/** Server processes of the proxy's read connections on the target now (pg_backend_pid() through the proxy is the source's). */
async function readBackends(): Promise<{ pid: number; state: string }[]> {
  // a parked connection's DISCARD ALL may still be on its way
  await new Promise((r) => setTimeout(r, 200));
  const r = await sql(pair.targetUrl, `SELECT pid, state FROM pg_stat_activity WHERE application_name = 'parked-test' ORDER BY pid`);
  return r.rows.map((x) => ({ pid: Number(x.pid), state: x.state as string }));
}

describe('read connections handed on between sessions', () => {
  it('sessions one after another read on one target process, which stays open for the next', async () => {
    await session(routedRead);
    const first = await readBackends();
    expect(first).toEqual([{ pid: expect.any(Number), state: 'idle' }]);
    for (let i = 0; i < 9; i++) {
      await session(async (c) => {
        await routedRead(c);
        expect((await readBackends()).map((b) => b.pid)).toEqual([first[0]!.pid]);
      });
    }
    expect(await readBackends()).toEqual(first);
  });

  it('the next session sees nothing of the one before: settings, prepared statements', async () => {
    await session(async (c) => {
      await c.query(`SET TimeZone = 'Asia/Tokyo'`);
      await c.query(`SET search_path = pg_catalog`);
      const r = await c.query({ name: 'read_one', text: `SELECT label FROM public.items WHERE id = $1`, values: [1] });
      expect(r.rows).toEqual([{ label: 'one' }]);
      await routedRead(c).catch(() => undefined);
    });
    const parked = await readBackends();
    expect(parked).toHaveLength(1);
    const second = await session(async (c) => {
      await routedRead(c);
      // the same name, another statement: a statement left behind would make the target refuse it (42P05)
      const r = await c.query({ name: 'read_one', text: `SELECT at, label FROM items WHERE id = $1`, values: [2] });
      return { on: await readBackends(), rows: r.rows, tz: (await c.query(`SELECT at FROM items WHERE id = 1`)).rows };
    });
    expect(second.on.map((b) => b.pid)).toEqual([parked[0]!.pid]);
    // in the source's TimeZone (UTC), on the source's search_path
    expect(second.rows).toEqual([{ at: '2021-06-07 08:09:10+00', label: 'two' }]);
    expect(second.tz).toEqual([{ at: '2020-01-02 03:04:05+00' }]);
  });

  it("a setting of the application's own leaves nothing on a connection handed on: the next session reads NULL for it, as on a new one", async () => {
    await session(async (c) => {
      await c.query(`SET app.tenant = 'acme'`);
      await routedRead(c);
    });
    const unset = await session(async (c) => {
      await routedRead(c);
      // DISCARD ALL resets the value, not the placeholder the server made for the name: '' there, NULL directly
      return (await c.query(`SELECT current_setting('app.tenant', true) AS t FROM items WHERE id = 1`)).rows;
    });
    expect(unset).toEqual([{ t: null }]);
  });

  it('a parked connection whose server process ended is not handed on: the next session reads on a new one, the target not blamed', async () => {
    await session(routedRead);
    const [parked] = await readBackends();
    await sql(pair.targetUrl, `SELECT pg_terminate_backend(${parked!.pid})`);
    const failures = tp.live.get().tripped;
    await session(async (c) => {
      await routedRead(c);
      const on = await readBackends();
      expect(on).toHaveLength(1);
      expect(on[0]!.pid).not.toBe(parked!.pid);
    });
    expect(tp.live.get().tripped).toBe(failures);
  });

  it("a session of another user never gets a connection of another's", async () => {
    await session(routedRead);
    const mine = await readBackends();
    expect(mine).toHaveLength(1);
    const otherUrl = new URL(tp.url(pair.name));
    otherUrl.username = 'parked_other';
    otherUrl.password = 'other-secret';
    const theirs = await session(async (c) => {
      await routedRead(c);
      const who = await c.query(`SELECT current_user AS u, (SELECT label FROM items WHERE id = 1) AS label`);
      return { on: await readBackends(), who: who.rows[0] };
    }, otherUrl.toString());
    // the first user's connection stayed parked; the other user's session opened its own
    expect(theirs.on).toHaveLength(2);
    expect(theirs.on.map((b) => b.pid)).toContain(mine[0]!.pid);
    expect(theirs.who).toEqual({ u: 'parked_other', label: 'one' });
    // and each user's next session takes its own back
    await session(async (c) => {
      await routedRead(c);
      expect(await readBackends()).toHaveLength(2);
    });
  });

  it('keeps a bounded number: sessions that each start up differently do not leave a connection each', async () => {
    for (let i = 0; i < 40; i++) await session(routedRead, tp.url(pair.name), `parked-many-${i}`);
    await new Promise((r) => setTimeout(r, 200));
    const r = await sql(pair.targetUrl, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'parked-%'`);
    expect(r.rows[0].n).toBeLessThanOrEqual(32);
    expect(r.rows[0].n).toBeGreaterThan(0);
  });

  it('a session that ends while its client was not reading hands its read connection on too', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name), types: RAW, application_name: 'parked-test' });
    // its socket is destroyed below: the driver's "Connection terminated unexpectedly" is expected
    c.on('error', () => undefined);
    await c.connect();
    await routedRead(c);
    const [mine] = await readBackends();
    // the client stops reading: a large answer fills the proxy's backlog for it, and the proxy stops
    // reading its backends (the idle read connection among them); then the client hangs up
    const s = (c as unknown as { connection: { stream: Socket } }).connection.stream;
    s.removeAllListeners('data');
    s.pause();
    s.write(query(`SELECT repeat('x', 1000) FROM generate_series(1, 50000) /* cutover:source */`));
    await new Promise((r) => setTimeout(r, 1_000));
    s.destroy();
    await new Promise((r) => setTimeout(r, 500));
    await session(async (c2) => {
      await routedRead(c2);
      expect((await readBackends()).map((b) => b.pid)).toEqual([mine!.pid]);
    });
  });
});
