// A client that hangs up while the proxy is still logging in to the server for
// it: pgx and pgxpool close a connection whose connect they cancel (pgxpool's
// TestCreateMinPoolClosesConnectionsOnError leaves several so). The hang-up
// reached only the start-up reader, which no longer listened once the server
// connection was open: the session and its server connection stayed open for
// good, two more after each run of that test, until max_connections.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, mirroringProxy } from '../mirror/mirrored-pair.ts';
import { startTestProxy, type TestProxy } from './proxy-harness.ts';
import { query, startupPacket } from './raw-wire.ts';

const sides: Record<'byte relay' | 'mirroring', { pair: DbPair; tp: TestProxy }> = {} as never;

beforeAll(async () => {
  const plain = await databasePair('startup_hangup');
  await sql(plain.legacyUrl, 'CREATE TABLE t (id int PRIMARY KEY)');
  // trust: the start-up packet alone logs in, so the hang-up lands while the proxy connects to the server
  sides['byte relay'] = { pair: plain, tp: await startTestProxy({ source: plain.legacyUrl, auth: 'trust' }) };
  const mirrored = await mirroredPair('startup_hangup_m', 'CREATE TABLE t (id int PRIMARY KEY)');
  sides.mirroring = { pair: mirrored, tp: await mirroringProxy(mirrored, { auth: 'trust' }) };
});
afterAll(async () => {
  await Promise.all(Object.values(sides).map((s) => s.tp?.close()));
});

/** Send `bytes` and hang up at once, without waiting for any answer; resolves when the proxy has closed its end. */
function sendAndHangUp(port: number, bytes: Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    s.on('data', () => undefined);
    s.on('close', () => resolve());
    s.on('connect', () => s.end(Buffer.concat(bytes)));
  });
}

const APP = 'startup-hangup';

/** Server sessions on `db` that the test's clients started (not the proxy's own: drainer, credentials). */
async function serverSessions(url: string, db: string): Promise<number> {
  const r = await sql(url, 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [db, APP]);
  return r.rows[0].n as number;
}

/** Waits until the proxy holds no session and the server none on `db` (or 5 s pass), then says what is left. */
async function leftOpen(tp: TestProxy, pair: DbPair): Promise<{ proxy: number; server: number }> {
  for (let i = 0; i < 100; i++) {
    if (tp.proxy.sessions() === 0 && (await serverSessions(pair.legacyUrl, pair.name)) === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proxy: tp.proxy.sessions(), server: await serverSessions(pair.legacyUrl, pair.name) };
}

describe.each(['byte relay', 'mirroring'] as const)('through the %s', (mode) => {
  it('a client that hangs up right after its start-up packet leaves no session open, on the proxy or on the server', async () => {
    const { pair, tp } = sides[mode];
    await Promise.all([1, 2, 3].map(() => sendAndHangUp(tp.port, [startupPacket({ user: 'postgres', database: pair.name, application_name: APP })])));
    expect(await leftOpen(tp, pair)).toEqual({ proxy: 0, server: 0 });
  });

  it('what it sent before hanging up still runs, as the server runs what arrived before the end', async () => {
    const { pair, tp } = sides[mode];
    const id = mode === 'mirroring' ? 2 : 1;
    await sendAndHangUp(tp.port, [startupPacket({ user: 'postgres', database: pair.name, application_name: APP }), query(`INSERT INTO t VALUES (${id})`)]);
    expect(await leftOpen(tp, pair)).toEqual({ proxy: 0, server: 0 });
    expect((await sql(pair.legacyUrl, 'SELECT id FROM t')).rows.map((r) => r.id)).toEqual([id]);
  });
});
