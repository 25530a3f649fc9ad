// A server that ends a session says why in one FATAL ErrorResponse, then closes.
// The client must hear that reason once, and no error of the proxy's after it:
// drivers treat an ErrorResponse with no query running as a connection error
// of its own (found by node-postgres's suite: pg_terminate_backend through the
// proxy gave the client a second, unexpected 'error' event).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair } from '../mirror/mirrored-pair.ts';
import { startTestProxy, type TestProxy } from './proxy-harness.ts';

interface Side { pair: DbPair; tp: TestProxy }
const sides: Record<'passthrough' | 'mirroring', Side> = {} as never;

beforeAll(async () => {
  const plain = await databasePair('proxy_farewell');
  sides.passthrough = { pair: plain, tp: await startTestProxy({ source: plain.legacyUrl }) };
  const mirrored = await mirroredPair('proxy_farewell_m', 'CREATE TABLE t (id int PRIMARY KEY);');
  sides.mirroring = { pair: mirrored, tp: await startTestProxy({ source: mirrored.legacyUrl, target: mirrored.targetUrl }) };
});
afterAll(async () => {
  await Promise.all(Object.values(sides).map((s) => s.tp.close()));
});

/** Connects through the proxy and records every ErrorResponse the client is sent. */
async function watchedClient(side: Side) {
  const c = new pg.Client({ connectionString: side.tp.url(side.pair.name) });
  await c.connect();
  const errors: { severity: string; code: string }[] = [];
  c.connection.on('errorMessage', (m: { severity: string; code: string }) => errors.push({ severity: m.severity, code: m.code }));
  c.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => c.once('end', () => resolve()));
  const pid = Number((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  return { c, errors, closed, pid };
}

describe.each(['passthrough', 'mirroring'] as const)('a session the server terminates (%s)', (mode) => {
  it('mid-query: the query fails with the server\'s 57P01 and the client gets no other error', { timeout: 15_000 }, async () => {
    const side = sides[mode];
    const { c, errors, closed, pid } = await watchedClient(side);
    const running = c.query('SELECT pg_sleep(10)');
    const failed = running.then(() => null, (e: { code?: string }) => e);
    // wait until the statement runs on the source, then end its backend there
    for (let i = 0; i < 100; i++) {
      const r = await sql(side.pair.legacyUrl, "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [pid]);
      if (r.rowCount) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await sql(side.pair.legacyUrl, 'SELECT pg_terminate_backend($1)', [pid]);
    expect(await failed).toMatchObject({ code: '57P01' });
    await closed;
    expect(errors).toEqual([{ severity: 'FATAL', code: '57P01' }]);
  });

  it('while idle: the client is told once, with the server\'s reason', { timeout: 15_000 }, async () => {
    const side = sides[mode];
    const { errors, closed, pid } = await watchedClient(side);
    await sql(side.pair.legacyUrl, 'SELECT pg_terminate_backend($1)', [pid]);
    await closed;
    expect(errors).toEqual([{ severity: 'FATAL', code: '57P01' }]);
  });
});
