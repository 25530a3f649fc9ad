import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import { mirroredPair } from './mirrored-pair.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { mirrorMetrics } from '../../proxy/mirror/metrics.ts';

const SCHEMA = `
  CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
  CREATE TABLE log (id bigserial PRIMARY KEY, item int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
`;
const TABLES = ['public.items', 'public.log'];
const SESSIONS = 24;
const ROUNDS = 15;
const BAD = 7; // the session whose writes the mirror refuses
const BAD_ROWS = 1000; // ids from here: rows only the bad session writes, to 666
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_group_commit', SCHEMA);
  // only the mirror refuses 666: one session's apply fails there, nobody else's may
  await sql(pair.targetUrl, 'ALTER TABLE items ADD CONSTRAINT not_666 CHECK (v <> 666)');
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
});
afterAll(async () => {
  await tp?.close();
});

async function fallbacks(): Promise<number> {
  return (await mirrorMetrics.groupFallbacks.get()).values[0]?.value ?? 0;
}

async function groupedSessions(): Promise<number> {
  const h = await mirrorMetrics.groupSessions.get();
  const count = h.values.find((v) => v.metricName === 'cutover_mirror_group_sessions_count')?.value ?? 0;
  const sum = h.values.find((v) => v.metricName === 'cutover_mirror_group_sessions_sum')?.value ?? 0;
  return sum - count; // sessions that shared a mirror transaction with another
}

describe('group commit of concurrent sessions', () => {
  it('a session failing its apply, even in a shared mirror transaction, leaves every other session mirrored and clean', async () => {
    const before = await groupedSessions();
    const fellBack = await fallbacks();
    const clients = await Promise.all(Array.from({ length: SESSIONS }, async (_, s) => {
      const c = new pg.Client({ connectionString: tp.url(pair.name) });
      await c.connect();
      await c.query('INSERT INTO items (id, v) VALUES ($1, 0)', [s]);
      return c;
    }));
    let running = SESSIONS - 1;
    let refused = 0;
    await Promise.all(clients.map(async (c, s) => {
      if (s === BAD) {
        // while the others write: refused writes until one shared a mirror transaction with theirs
        while (running > 0 && refused < 100 && (await fallbacks()) === fellBack) {
          // the source takes it; the mirror's check refuses it; the client must not notice
          await c.query('INSERT INTO items (id, v) VALUES ($1, 666)', [BAD_ROWS + refused++]);
        }
        return;
      }
      for (let r = 0; r < ROUNDS; r++) {
        await c.query('BEGIN');
        await c.query('UPDATE items SET v = v + 1 WHERE id = $1', [s]);
        await c.query('INSERT INTO log (item) VALUES ($1)', [s]);
        await c.query('COMMIT');
        await c.query('UPDATE items SET v = v + 1 WHERE id = $1', [s]);
      }
      running--;
    }));
    await Promise.all(clients.map((c) => c.end()));

    expect(await groupedSessions()).toBeGreaterThan(before);
    expect(await fallbacks()).toBeGreaterThan(fellBack);
    const stats = tp.proxy.guard!.stats;
    expect(stats.applyErrors).toBe(refused);
    expect(stats.dirtyKeys).toBe(refused);
    // before any repair, the mirror differs from the source in the refused row alone
    const rows = async (url: string) => new Map((await sql(url, 'SELECT id, v FROM items')).rows.map((r) => [r.id as number, r.v as number]));
    const [src, dst] = await Promise.all([rows(pair.legacyUrl), rows(pair.targetUrl)]);
    const differ = [...src].filter(([id, v]) => dst.get(id) !== v).map(([id]) => id).sort((a, b) => a - b);
    expect(differ).toEqual(Array.from({ length: refused }, (_, i) => BAD_ROWS + i));
    const logs = await compareDatabases(pair.legacyUrl, pair.targetUrl, ['public.log']);
    expect(logs[0]).toMatchObject({ equal: true });

    // with the mirror fixed, the dirty key is re-synced from the source and both sides agree
    await sql(pair.targetUrl, 'ALTER TABLE items DROP CONSTRAINT not_666');
    for (let i = 0; i < 100 && (i === 0 || tp.proxy.drainer!.backlog > 0); i++) {
      await tp.proxy.drainer!.drainOnce().catch(() => 0);
      await new Promise((r) => setTimeout(r, 50));
    }
    const diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, TABLES);
    expect(diffs).toEqual(TABLES.map((t) => expect.objectContaining({ table: t, equal: true })));
  });
});
