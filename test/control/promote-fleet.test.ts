// Promote on a fleet: two proxies share a Redis state store and both carry
// writers; the promote runs through one. The other pauses with it, switches its
// sessions to the new database when the roles swap, and nothing acknowledged
// through either proxy is missing on either database.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import { mirroredPair } from '../mirror/mirrored-pair.ts';
import { startControlledProxy, walkToFullReads, type ControlledProxy } from './controlled-proxy.ts';
import { goOnAfter } from '../harness/write-loop.ts';

const redisUrl = inject('redisUrl');
const SCHEMA = 'CREATE TABLE ledger (id bigserial PRIMARY KEY, proxy text NOT NULL, n int NOT NULL)';

let pair: DbPair;
const fleet: ControlledProxy[] = [];

beforeAll(async () => {
  if (!redisUrl) return;
  pair = await mirroredPair('control_promote_fleet', SCHEMA);
  const state = `${redisUrl.replace(/\/\d*$/, '')}/5`;
  const { Redis } = await import('ioredis');
  const r = new Redis(state);
  await r.flushdb();
  r.disconnect();
  for (let i = 0; i < 2; i++) fleet.push(await startControlledProxy({ source: pair.legacyUrl, target: pair.targetUrl, state }));
});
afterAll(async () => {
  for (const p of fleet) await p.close();
});

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(!redisUrl)('promote on a fleet of two proxies', () => {
  it('both proxies pause and swap; writes through either are on both databases', async () => {
    const [a, b] = fleet as [ControlledProxy, ControlledProxy];
    await until('mirroring', () => a.live.get().mirroring && b.live.get().mirroring);
    await walkToFullReads(a);
    await until('the other proxy at 100 %', () => b.live.get().readPercent === 100);

    const acked: string[] = [];
    const errors: string[] = [];
    let stop = false;
    const writer = async (cp: ControlledProxy, name: string) => {
      const c = new pg.Client({ connectionString: cp.url(pair.name) });
      await c.connect();
      for (let n = 0; !stop; n++) {
        try {
          acked.push((await c.query('INSERT INTO ledger (proxy, n) VALUES ($1, $2) RETURNING id', [name, n])).rows[0].id);
        } catch (e) {
          errors.push((e as Error).message);
          if (!(await goOnAfter(e))) break;
        }
      }
      await c.end().catch(() => undefined);
    };
    const writers = Promise.all([writer(a, 'a'), writer(a, 'a'), writer(b, 'b'), writer(b, 'b')]);
    await new Promise((r) => setTimeout(r, 400));
    const sawPause = new Promise<boolean>((resolve) => {
      const on = () => {
        if (b.live.get().paused) {
          b.live.off('change', on);
          resolve(true);
        }
      };
      b.live.on('change', on);
      setTimeout(() => resolve(false), 10_000);
    });
    const promoted = await a.api('POST', '/promote');
    expect(promoted.status, JSON.stringify(promoted.json)).toBe(200);
    expect(await sawPause).toBe(true);
    await until('the other proxy to see the new roles', () => b.live.get().sourceOfTruth === 'new' && !b.live.get().paused);
    const atPromote = acked.length;
    await new Promise((r) => setTimeout(r, 600));
    stop = true;
    await writers;
    expect(errors).toEqual([]);
    expect(acked.length).toBeGreaterThan(atPromote);
    console.log(`fleet promote: paused ${promoted.json.promote.pausedMs} ms; ${acked.length} acknowledged writes through two proxies`);

    await a.proxy.drainer!.flush();
    for (const url of [pair.legacyUrl, pair.targetUrl]) {
      const r = await sql(url, 'SELECT count(*)::int AS n FROM ledger WHERE id = ANY ($1::bigint[])', [acked]);
      expect(r.rows[0].n).toBe(acked.length);
    }
    expect((await compareDatabases(pair.legacyUrl, pair.targetUrl, ['public.ledger']))[0]).toMatchObject({ equal: true });
  });
});
