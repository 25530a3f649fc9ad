import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { startTestProxy, type TestProxy } from './proxy-harness.ts';

let legacy: Cluster;
let tp: TestProxy;

beforeAll(async () => {
  legacy = await startCluster({ name: 'outage' });
  tp = await startTestProxy({ source: legacy.url('postgres') });
});
afterAll(async () => {
  await tp?.close();
  await legacy?.destroy();
});

async function tryConnect(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const r = await c.query('SELECT 1 AS ok');
    await c.end();
    return String(r.rows[0].ok);
  } catch (e) {
    return (e as { code?: string }).code ?? (e as Error).message;
  }
}

describe('the source going away', () => {
  it('is not what one session ended by the server with a FATAL of its own says (readiness stays)', async () => {
    const victim = new pg.Client({ connectionString: tp.url('postgres') });
    const ended = new Promise<Error>((resolve) => victim.on('error', resolve));
    await victim.connect();
    const pid = (victim as unknown as { processID: number }).processID;
    const admin = new pg.Client({ connectionString: legacy.url('postgres') });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await admin.end();
    expect((await ended as { code?: string }).code).toBe('57P01');
    await new Promise((r) => setTimeout(r, 100));
    expect(tp.proxy.stats().sourceAvailable).toBe(true);
  });

  it('ends open sessions with an error, refuses new ones with 08006, and recovers', async () => {
    const open = new pg.Client({ connectionString: tp.url('postgres') });
    const ended = new Promise<Error>((resolve) => open.on('error', resolve));
    await open.connect();
    await legacy.stop('immediate');
    const err = await ended;
    expect(err.message).toMatch(/terminat|lost connection|Connection terminated/i);
    expect(await tryConnect(tp.url('postgres'))).toBe('08006');
    expect(tp.proxy.stats().sourceAvailable).toBe(false);
    await legacy.start();
    expect(await tryConnect(tp.url('postgres'))).toBe('1');
    expect(tp.proxy.stats().sourceAvailable).toBe(true);
  });
});
