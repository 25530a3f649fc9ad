// A cancel that arrives while the proxy takes a transaction's changes for the
// mirror, just before its COMMIT (a driver's statement deadline passing at
// COMMIT, Ctrl-C in psql). PostgreSQL does not cancel a COMMIT: directly the
// transaction commits. The proxy sent the cancel to the source, where it
// stopped the proxy's own drain statement: the transaction was rolled back
// and the client got 40000 'its changes could not be taken for the mirror
// (capture missing on the source of truth?)' (8 of 8 large transactions
// cancelled 20 ms into their COMMIT, none committed). The drain is held here
// on a lock the test owns, so the cancel surely lands on it.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { sendCancel } from '../proxy/send-cancel.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

const LOCK = 4_242_017;
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('cancel_at_commit', 'CREATE TABLE items (id int PRIMARY KEY, note text)');
  // the proxy's drain waits for the test's advisory lock in a session that asked for it
  await sql(pair.legacyUrl, `
    CREATE FUNCTION test_slow_drain() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('test.slow_drain', true) = 'on' THEN PERFORM pg_advisory_xact_lock_shared(${LOCK}); END IF;
      RETURN OLD;
    END $$;
    CREATE TRIGGER test_slow_drain BEFORE DELETE ON cutover.changes FOR EACH ROW EXECUTE FUNCTION test_slow_drain();`);
  tp = await mirroringProxy(pair);
});
afterAll(async () => {
  await tp?.close();
});


/** Until `pid` on the source is in `states` (pg_stat_activity's state, with its wait), or `withinMs` passed; the last seen. */
async function sourceBackend(pid: number, until: (s: { state: string; wait: string | null }) => boolean, withinMs: number): Promise<string> {
  let seen = '';
  for (const deadline = Date.now() + withinMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 25))) {
    const r = await sql(pair.legacyUrl, `SELECT state, wait_event AS wait FROM pg_stat_activity WHERE pid = $1`, [pid]);
    const s = r.rows[0] as { state: string; wait: string | null } | undefined;
    if (!s) return 'gone';
    seen = `${s.state}${s.wait ? ` (${s.wait})` : ''}`;
    if (until(s)) return seen;
  }
  return seen;
}

const outcome = (p: Promise<unknown>) => p.then(() => 'committed', (e: { code?: string; message?: string }) => `${e.code} ${e.message}`);

it.each([
  ['an explicit COMMIT', async (c: pg.Client, id: number) => {
    await c.query('BEGIN');
    await c.query(`SET LOCAL test.slow_drain = 'on'`);
    await c.query('INSERT INTO items VALUES ($1, $2)', [id, 'kept']);
    return c.query('COMMIT');
  }],
  ['an autocommit write', async (c: pg.Client, id: number) => {
    await c.query(`SET test.slow_drain = 'on'`);
    return c.query('INSERT INTO items VALUES ($1, $2)', [id, 'kept']);
  }],
])('%s cancelled while its changes are taken for the mirror commits, as PostgreSQL ignores a cancel at COMMIT', async (_name, run) => {
  const id = _name.length;
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  c.on('error', () => undefined);
  await c.connect();
  const holder = new pg.Client({ connectionString: pair.legacyUrl });
  await holder.connect();
  try {
    await holder.query('SELECT pg_advisory_lock($1)', [LOCK]);
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const committing = outcome(run(c, id));
    // the drain waits for the lock: the COMMIT is under way
    expect(await sourceBackend(pid, (s) => s.wait === 'advisory', 15_000)).toMatch(/advisory/);
    await sendCancel(tp.port, c);
    // time for a cancel sent on to the source to stop the drain there (before: idle in transaction (aborted))
    await sourceBackend(pid, (s) => s.wait !== 'advisory', 3_000);
    await holder.query('SELECT pg_advisory_unlock($1)', [LOCK]);
    expect(await committing).toBe('committed');
    expect((await sql(pair.legacyUrl, 'SELECT note FROM items WHERE id = $1', [id])).rows).toEqual([{ note: 'kept' }]);
    expect((await sql(pair.targetUrl, 'SELECT note FROM items WHERE id = $1', [id])).rows).toEqual([{ note: 'kept' }]);
    // the session goes on
    await c.query(`SET test.slow_drain = 'off'`);
    expect((await c.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBeGreaterThan(0);
  } finally {
    await holder.end();
    await c.end().catch(() => undefined);
  }
});
