// Hostile clients against the mirroring proxy (reads 50 %): after log-in each
// sends a few messages drawn at random (fixed seeds) from well-formed and
// mutilated extended- and simple-protocol traffic (wrong lengths, bodies cut
// short, messages out of place, Queries behind unsynced messages, COPY data
// outside COPY, a client leaving mid-COPY or mid-segment), then hangs up.
// Meanwhile ordinary sessions write and read back what they wrote. Whatever
// the hostile ones sent: the ordinary sessions see no error and read their own
// writes, no session and no source connection is left behind once the hostile
// clients are gone, and both databases are equal. Before 3874316 and efc908b
// this test failed: 2 of the 160 sessions stayed open for good after their
// clients left (a Query answered ahead of messages the server then skipped:
// its handler waited for an answer that never came), each holding a source
// connection, some idle in transaction with their locks.
import type { Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { hostileMessages, random } from '../proxy/hostile-wire.ts';
import { expectConverged, mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_hostile', 'CREATE TABLE docs (k text PRIMARY KEY, body text); CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE NOT NULL, pw text)');
  tp = await mirroringProxy(pair, { reads: 50, auth: 'trust' });
});
afterAll(async () => {
  await tp?.close();
});

const url = () => `postgres://postgres@127.0.0.1:${tp.port}/${pair.name}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One hostile session: log in, send the seed's messages (a few ms apart), read for a while, hang up. */
async function hostile(seed: number): Promise<void> {
  const c = new pg.Client({ connectionString: url() });
  c.on('error', () => undefined);
  await c.connect();
  const s = (c as unknown as { connection: { stream: Socket } }).connection.stream;
  s.removeAllListeners('data');
  s.on('data', () => undefined);
  const rnd = random(seed);
  for (const m of hostileMessages(rnd)) {
    if (!s.writable) break;
    s.write(m);
    await sleep(rnd.int(15));
  }
  await sleep(100 + rnd.int(150));
  s.destroy();
}

/** An ordinary session: inserts and updates its own rows, reads each back (on either database). */
async function ordinary(w: number, until: () => boolean): Promise<{ ops: number; errors: string[] }> {
  const c = new pg.Client({ connectionString: url() });
  await c.connect();
  const errors: string[] = [];
  const mine = new Map<number, string>();
  let ops = 0;
  while (!until()) {
    try {
      if (mine.size === 0 || ops % 3 === 0) {
        const pw = `w${w}-${ops}`;
        const r = await c.query('INSERT INTO users (email, pw) VALUES ($1, $2) RETURNING id', [`${pw}@x`, pw]);
        mine.set(r.rows[0].id as number, pw);
      } else if (ops % 3 === 1) {
        const [id] = [...mine.keys()].slice(-1);
        const pw = `u${w}-${ops}`;
        await c.query('BEGIN');
        await c.query('UPDATE users SET pw = $1 WHERE id = $2', [pw, id]);
        await c.query('COMMIT');
        mine.set(id!, pw);
      } else {
        const [id, pw] = [...mine.entries()][ops % mine.size]!;
        const r = await c.query({ name: 'own-row', text: 'SELECT pw FROM users WHERE id = $1', values: [id] });
        if (r.rows[0]?.pw !== pw) errors.push(`row ${id}: read ${String(r.rows[0]?.pw)}, wrote ${pw}`);
      }
    } catch (e) {
      errors.push((e as Error).message);
    }
    ops++;
  }
  await c.end();
  return { ops, errors };
}

describe('hostile clients beside ordinary ones, mirroring with reads at 50 %', () => {
  it('leave no session or source connection behind, disturb no one, and the databases end equal', async () => {
    const backends = async () => Number((await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [pair.name])).rows[0].n);
    let hostileDone = false;
    const ordinaryRuns = [0, 1, 2].map((w) => ordinary(w, () => hostileDone));
    // 4 hostile clients at a time, 160 sessions in all
    let next = 0;
    await Promise.all([0, 1, 2, 3].map(async () => {
      while (next < 160) await hostile(1000 + next++);
    }));
    hostileDone = true;
    const runs = await Promise.all(ordinaryRuns);
    expect(runs.flatMap((r) => r.errors)).toEqual([]);
    expect(runs.every((r) => r.ops > 10)).toBe(true);
    // every session ends once its client is gone (what it left running finishes first)
    for (let i = 0; i < 100 && tp.proxy.stats().sessionsOpen > 0; i++) await sleep(100);
    expect(tp.proxy.stats().sessionsOpen).toBe(0);
    // left: the proxy's own connections (drainer, log-in lookups), not a session's
    const left = await backends();
    expect(left).toBeLessThanOrEqual(3);
    expect((await sql(pair.legacyUrl, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND state LIKE 'idle in transaction%'", [pair.name])).rows[0].n).toBe(0);
    // the proxy still serves
    const c = new pg.Client({ connectionString: url() });
    await c.connect();
    expect((await c.query('SELECT 41 + 1 AS n')).rows[0].n).toBe(42);
    await c.end();
    await expectConverged(tp.proxy.drainer!, pair, ['docs', 'users']);
  });
});
