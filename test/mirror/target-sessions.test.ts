// Session connections the proxy opens on the new database for reads are
// limited (targetSessions), and a new database with no room for another one
// (53300) is a matter of capacity: the read runs on the source and nothing is
// held against the target's health (breaker, error-rate gate).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair } from './mirrored-pair.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { autoLimit } from '../../proxy/target-sessions.ts';

const SCHEMA = `
  CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
  INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g;
`;
// a role of its own, with a connection limit on the new database (superusers have none)
const ROLE = `tsess_${process.pid}`;
const PASSWORD = 'Tsess-pw-1';
const READER = 'tsess-reader';
let pair: DbPair;

/** `clients` sessions through the proxy, each reading every item, concurrently; the answers checked. */
async function readEverywhere(tp: TestProxy, clients: number, user?: string, password?: string): Promise<void> {
  const cs = Array.from({ length: clients }, () => new pg.Client({ connectionString: tp.url(pair.name, user, password), application_name: READER }));
  await Promise.all(cs.map((c) => c.connect()));
  try {
    await Promise.all(cs.map(async (c) => {
      for (let id = 1; id <= 50; id++) {
        const r = await c.query('SELECT name FROM items WHERE id = $1', [id]);
        expect(r.rows).toEqual([{ name: `item ${id}` }]);
      }
    }));
  } finally {
    await Promise.all(cs.map((c) => c.end()));
  }
}

/** The proxy's session connections on the new database for clients named `name` (they carry the client's application_name). */
async function sessionsOnTarget(name = READER): Promise<number> {
  const r = await sql(pair.targetUrl, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2`, [pair.name, name]);
  return r.rows[0].n;
}

beforeAll(async () => {
  pair = await mirroredPair('mirror_target_sessions', SCHEMA);
  for (const url of [pair.legacyUrl, pair.targetUrl]) {
    await sql(url, `CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'; GRANT SELECT ON items TO ${ROLE}`);
  }
  await sql(pair.targetUrl, `ALTER ROLE ${ROLE} CONNECTION LIMIT 2`);
});
afterAll(async () => {
  for (const url of [pair.legacyUrl, pair.targetUrl]) await sql(url, `DROP OWNED BY ${ROLE}; DROP ROLE ${ROLE}`);
});

describe('session connections for reads on the new database', () => {
  it('keeps to targetSessions: further sessions read from the source, and the target is not blamed', async () => {
    const tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 100, targetSessions: 2 });
    try {
      let most = 0;
      const watch = setInterval(() => void sessionsOnTarget().then((n) => (most = Math.max(most, n))), 20);
      await readEverywhere(tp, 6);
      clearInterval(watch);
      const s = tp.proxy.stats().readSessions!;
      expect(s.new.limit).toBe(2);
      expect(most).toBeLessThanOrEqual(2);
      expect(most).toBeGreaterThan(0);
      expect(s.keptOnSource).toBeGreaterThan(0);
      expect(tp.proxy.guard!.stats.reads).toBeGreaterThan(0);
      expect(tp.proxy.guard!.stats.readErrors).toBe(0);
      expect(tp.live.get().tripped).toBeFalsy();
    } finally {
      await tp.close();
    }
  });

  it('takes an idle session\'s connection back for a session that has reads to route', async () => {
    const tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 100, targetSessions: 1 });
    const named = async (name: string) => {
      const c = new pg.Client({ connectionString: tp.url(pair.name), application_name: name });
      await c.connect();
      return c;
    };
    const holder = await named('tsess-idle');
    const busy = await named('tsess-busy');
    try {
      expect((await holder.query('SELECT name FROM items WHERE id = 1')).rows).toEqual([{ name: 'item 1' }]);
      expect(await sessionsOnTarget('tsess-idle')).toBe(1);
      // the holder sits idle; the other reads on, from the source at first, then from the target
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && (await sessionsOnTarget('tsess-busy')) === 0) {
        for (let id = 1; id <= 20; id++) expect((await busy.query('SELECT name FROM items WHERE id = $1', [id])).rows).toEqual([{ name: `item ${id}` }]);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await sessionsOnTarget('tsess-busy')).toBe(1);
      expect(await sessionsOnTarget('tsess-idle')).toBe(0);
      expect(tp.proxy.stats().readSessions!.new.open).toBe(1);
      // the holder's session goes on, its reads answered as before
      expect((await holder.query('SELECT name FROM items WHERE id = 2')).rows).toEqual([{ name: 'item 2' }]);
      expect(tp.proxy.guard!.stats.readErrors).toBe(0);
    } finally {
      await Promise.all([holder.end(), busy.end()]);
      await tp.close();
    }
  });

  it('reads on the source when the new database refuses a session for lack of room (53300), without tripping', async () => {
    // the target URL's role may hold 2 connections there; 5 sessions want one each
    const target = new URL(pair.targetUrl);
    target.username = ROLE;
    target.password = PASSWORD;
    const tp = await startTestProxy({ source: pair.legacyUrl, target: target.toString(), reads: 100, targetSessions: 0 });
    try {
      await readEverywhere(tp, 5, ROLE, PASSWORD);
      expect(tp.proxy.guard!.stats.readErrors).toBe(0);
      expect(tp.live.get().tripped).toBeFalsy();
      expect(tp.proxy.guard!.stats.reads).toBeGreaterThan(0);
      expect(tp.proxy.stats().readSessions!.keptOnSource).toBeGreaterThan(0);
    } finally {
      await tp.close();
    }
  });

  it('leaves the appliers a share of the server by default', () => {
    // PostgreSQL's default max_connections (100, 3 reserved): 64 clients all still read from the target
    expect(autoLimit(97, 1)).toBe(74);
    expect(autoLimit(297, 1)).toBe(234);
    expect(autoLimit(297, 2)).toBe(117);
    expect(autoLimit(5, 1)).toBe(1);
  });
});
