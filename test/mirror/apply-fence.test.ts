// An apply given up on (the mirror frozen or cut off) may reach the mirror
// long after: once its proxy has died or restarted, nothing remembers to end
// its server process. The next proxy fences the mirror before its first
// re-sync (the epoch moves on under an advisory lock), so the stale apply is
// refused when it arrives instead of landing over the newer row. Before, the
// stuck apply arrived after the thaw and left the mirror with the old value.
import { expect, it } from 'vitest';
import { MirrorApplier, type Change } from '../../proxy/mirror/apply.ts';
import { sql } from '../harness/databases.ts';
import { freezableForwarder } from './freezable-forwarder.ts';
import { mirroredPair } from './mirrored-pair.ts';

const row = (v: string, txid?: string): Change => ({ seq: 1, tbl: '"public"."kv"', op: 'U', pk: '{"id": 1}', row: JSON.stringify({ id: 1, v }), ...(txid ? { txid } : {}) });

it('a stale apply from a proxy that is gone is refused once another proxy has fenced the mirror; live applies go on', async () => {
  const pair = await mirroredPair('mirror_apply_fence', 'CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL)');
  const fwd = await freezableForwarder(new URL(pair.targetUrl));
  const via = new URL(pair.targetUrl);
  via.port = String(fwd.port);
  // the proxy that will die: its connection to the mirror runs through the forwarder
  const dying = new MirrorApplier(via.toString(), 4, 'on', 400);
  // a fleet peer that stays up the whole time
  const peer = new MirrorApplier(pair.targetUrl, 4, 'on', 2_000);
  const restarted = new MirrorApplier(pair.targetUrl, 4, 'on', 2_000);
  try {
    await dying.apply([row('first', '1001')]);
    await peer.apply([row('peer before')]);
    fwd.freeze({ hold: false });
    // given up on after its deadline; the bytes wait in the frozen flow
    await expect(dying.apply([row('stale', '1002')])).rejects.toThrow(/did not answer within 400 ms/);
    // the proxy is gone (nothing fences its given-up apply); another one starts, fences, re-syncs
    await restarted.fence();
    await restarted.apply([row('fresh')]);
    fwd.thaw();
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await sql(pair.targetUrl, 'SELECT v FROM kv WHERE id = 1')).rows).toEqual([{ v: 'fresh' }]);
    // the peer's next apply, sent under the old epoch, is refused once and sent again under the new one
    await peer.apply([{ ...row('peer after'), pk: '{"id": 2}', row: JSON.stringify({ id: 2, v: 'peer after' }) }]);
    expect((await sql(pair.targetUrl, 'SELECT id, v FROM kv ORDER BY id')).rows).toEqual([{ id: 1, v: 'fresh' }, { id: 2, v: 'peer after' }]);
  } finally {
    fwd.thaw();
    await Promise.all([dying.close(), peer.close(), restarted.close()]);
    await fwd.close();
  }
}, 60_000);

it('an apply stuck inside the mirror holding the fence lock past the deadline is ended by the fence', async () => {
  const pair = await mirroredPair('mirror_apply_fence_held', 'CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL)');
  const first = new MirrorApplier(pair.targetUrl, 4, 'on', 1_000);
  const next = new MirrorApplier(pair.targetUrl, 4, 'on', 1_000);
  const { default: pg } = await import('pg');
  // what a frozen apply leaves on the mirror: its transaction open after enter(), the rest of its pipeline never arriving
  const stuck = new pg.Client({ connectionString: pair.targetUrl, application_name: 'cutover-mirror' });
  stuck.on('error', () => undefined);
  try {
    await first.apply([row('first', '2001')]);
    const epoch = (await sql(pair.targetUrl, 'SELECT n::text AS n FROM cutover_mirror.epoch')).rows[0].n;
    await stuck.connect();
    await stuck.query('BEGIN');
    await stuck.query('SELECT cutover_mirror.enter($1)', [epoch]);
    await stuck.query(`INSERT INTO kv VALUES (1, 'stale') ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v`);
    const t0 = Date.now();
    await next.fence();
    expect(Date.now() - t0).toBeLessThan(5_000);
    await expect(stuck.query('COMMIT')).rejects.toThrow();
    await next.apply([row('fresh')]);
    expect((await sql(pair.targetUrl, 'SELECT v FROM kv WHERE id = 1')).rows).toEqual([{ v: 'fresh' }]);
    expect(Number((await sql(pair.targetUrl, 'SELECT n FROM cutover_mirror.epoch')).rows[0].n)).toBe(Number(epoch) + 1);
  } finally {
    await stuck.end().catch(() => undefined);
    await Promise.all([first.close(), next.close()]);
  }
}, 60_000);
