// The drainer's race with a session over a key it found missing: there is no
// row to lock, so a session may insert that key right after the drainer
// looked and mirror it before its own commit, and the drainer's delete would
// then reach the mirror after the session's row. Capture format 6 closes it:
// a statement making new keys holds their bucket (an advisory lock) shared,
// and the drainer takes a missing key's bucket before it reads the key again.
// Triggers of an older format take no bucket: there the drainer checks such
// deletes again once the racing transactions ended, and re-syncs the key.
import { expect, it } from 'vitest';
import pg from 'pg';
import { LiveState } from '../../common/live-state.ts';
import { silentLogger } from '../../common/log.ts';
import { DRAIN_SQL } from '../../proxy/capture/pg-capture.ts';
import { MirrorApplier, type Change, type ChangeApplier } from '../../proxy/mirror/apply.ts';
import { Drainer } from '../../proxy/mirror/drainer.ts';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair } from './mirrored-pair.ts';

/** What capture format 5 installed: the same triggers without the key buckets. */
async function olderFormat(url: string): Promise<void> {
  await sql(url, `
    DO $$ DECLARE f oid; BEGIN
      FOR f IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'cutover' AND p.proname LIKE 'cap\\_%' LOOP
        EXECUTE regexp_replace(pg_get_functiondef(f), 'PERFORM pg_advisory_xact_lock_shared[^;]*;', '', 'g');
      END LOOP;
    END $$;
    COMMENT ON SCHEMA cutover IS 'cutover capture format 5'`);
  const left = await sql(url, `SELECT count(*)::int AS n FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'cutover' AND prosrc LIKE '%advisory%'`);
  expect(left.rows).toEqual([{ n: 0 }]);
}

/** A session's own part before its COMMIT, as the proxy plays it: its change rows taken and applied to the mirror. */
async function mirrorOwn(session: pg.Client, mirror: MirrorApplier): Promise<void> {
  const own = await session.query(DRAIN_SQL);
  await mirror.apply(own.rows.map((r) => ({ seq: Number(r.seq), tbl: r.tbl, op: r.op, pk: r.pk, row: r.row })));
}

/** Whether `pid` waits for an advisory lock on the database at `url`, asked until `withinMs`. */
async function waitsForAdvisoryLock(url: string, pid: number, withinMs: number): Promise<boolean> {
  for (const deadline = Date.now() + withinMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const w = await sql(url, `SELECT 1 FROM pg_locks WHERE pid = ${pid} AND locktype = 'advisory' AND NOT granted`);
    if (w.rowCount) return true;
  }
  return false;
}

it('a session inserting a key the drainer is deleting waits for the drainer, and its row reaches the mirror last', async () => {
  const pair = await mirroredPair('mirror_drainer_key_bucket', `CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL); INSERT INTO kv VALUES (1, 'old'), (2, 'two')`);
  // an out-of-band delete (not through the proxy): a change row for the drainer
  await sql(pair.legacyUrl, `DELETE FROM kv WHERE id = 1`);
  const mirror = new MirrorApplier(pair.targetUrl);
  const session = new pg.Client({ connectionString: pair.legacyUrl });
  await session.connect();
  const pid = (await session.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  let inserted: Promise<unknown> | null = null;
  let waited = false;
  // the drainer has read key 1 as missing; before its delete reaches the mirror, a session inserts key 1
  const racing: ChangeApplier = {
    apply: async (changes: Change[]) => {
      if (!inserted && changes.some((c) => c.op === 'D' && JSON.parse(c.pk).id === 1)) {
        await session.query('BEGIN');
        inserted = session.query(`INSERT INTO kv VALUES (1, 'new')`);
        waited = await waitsForAdvisoryLock(pair.legacyUrl, pid, 5_000);
      }
      await mirror.apply(changes);
    },
    probe: (tables) => mirror.probe(tables),
    close: () => mirror.close(),
  };
  const drainer = new Drainer(pair.legacyUrl, racing, new LiveState({ mirroring: true }), silentLogger, 50);
  try {
    expect(await drainer.drainOnce()).toBe(1);
    expect(inserted).not.toBeNull();
    // the insert waited for the drainer's bucket, so the drainer's delete landed first
    expect(waited).toBe(true);
    await inserted;
    await mirrorOwn(session, mirror);
    await session.query('COMMIT');
    // at once: no later drain is needed to put the session's row back
    expect((await sql(pair.targetUrl, `SELECT id, v FROM kv ORDER BY id`)).rows).toEqual([{ id: 1, v: 'new' }, { id: 2, v: 'two' }]);
    expect((await sql(pair.legacyUrl, `SELECT id, v FROM kv ORDER BY id`)).rows).toEqual([{ id: 1, v: 'new' }, { id: 2, v: 'two' }]);
  } finally {
    await session.end();
    await drainer.stop();
    await mirror.close();
  }
});

it('a missing key whose bucket a writer holds is put back in the queue, not deleted on the mirror under the writer', async () => {
  const pair = await mirroredPair('mirror_drainer_key_held', `CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL); INSERT INTO kv SELECT g, 'old' FROM generate_series(1, 2500) g`);
  // 2,500 out-of-band deletes: three drain batches
  await sql(pair.legacyUrl, `DELETE FROM kv`);
  // a session re-inserts key 2400 and has not committed: its bucket is held, its row invisible to the drainer
  const mirror = new MirrorApplier(pair.targetUrl);
  const session = new pg.Client({ connectionString: pair.legacyUrl });
  await session.connect();
  const drainer = new Drainer(pair.legacyUrl, mirror, new LiveState({ mirroring: true }), silentLogger, 50);
  try {
    await session.query(`BEGIN; INSERT INTO kv VALUES (2400, 'new')`);
    for (let i = 0; i < 5; i++) await drainer.drainOnce();
    // key 2400 and the others of its bucket wait on the mirror, their change rows back in the queue
    const waiting = (await sql(pair.targetUrl, `SELECT id FROM kv ORDER BY id`)).rows.map((r) => r.id as number);
    expect(waiting).toContain(2400);
    expect(waiting.length).toBeLessThan(2500 / 4);
    // (the session's own change row is not committed: not counted here)
    const queued = await sql(pair.legacyUrl, `SELECT count(*)::int AS n, count(*) FILTER (WHERE op = 'R')::int AS resync FROM cutover.changes`);
    expect(queued.rows).toEqual([{ n: waiting.length, resync: waiting.length }]);
    await mirrorOwn(session, mirror);
    await session.query('COMMIT');
    await drainer.flush();
    expect((await sql(pair.targetUrl, `SELECT id, v FROM kv ORDER BY id`)).rows).toEqual([{ id: 2400, v: 'new' }]);
    expect((await sql(pair.legacyUrl, `SELECT id, v FROM kv ORDER BY id`)).rows).toEqual([{ id: 2400, v: 'new' }]);
  } finally {
    await session.end();
    await drainer.stop();
    await mirror.close();
  }
});

/**
 * A mirror applier that plays the race: when the drainer's batch deletes key `id` (it found the row
 * missing), a session first inserts that key on the source and mirrors it before its commit, as the
 * proxy does; the session's transaction stays open for the test to commit.
 */
async function racingSession(pair: DbPair, id: number): Promise<{ mirror: MirrorApplier; session: pg.Client; racing: ChangeApplier; raced: () => boolean }> {
  const mirror = new MirrorApplier(pair.targetUrl);
  const session = new pg.Client({ connectionString: pair.legacyUrl });
  await session.connect();
  let raced = false;
  const racing: ChangeApplier = {
    apply: async (changes: Change[]) => {
      if (!raced && changes.some((c) => c.op === 'D' && JSON.parse(c.pk).id === id)) {
        raced = true;
        await session.query('BEGIN');
        await session.query(`INSERT INTO kv VALUES (${id}, 'new')`);
        const own = await session.query(DRAIN_SQL);
        await mirror.apply(own.rows.map((r) => ({ seq: Number(r.seq), tbl: r.tbl, op: r.op, pk: r.pk, row: r.row })));
      }
      await mirror.apply(changes);
    },
    probe: (tables) => mirror.probe(tables),
    close: () => mirror.close(),
  };
  return { mirror, session, racing, raced: () => raced };
}

it('older triggers: a key inserted and mirrored by a session while the drainer deleted it ends on the mirror with the source row', async () => {
  const pair = await mirroredPair('mirror_drainer_missing_key', `CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL); INSERT INTO kv VALUES (1, 'old'), (2, 'two')`);
  await olderFormat(pair.legacyUrl);
  // an out-of-band delete (not through the proxy): a change row for the drainer
  await sql(pair.legacyUrl, `DELETE FROM kv WHERE id = 1`);

  // the drainer has read key 1 as missing; before its delete reaches the mirror, a session inserts key 1
  // on the source and mirrors it before its commit, as the proxy does
  const { mirror, session, racing, raced } = await racingSession(pair, 1);
  const drainer = new Drainer(pair.legacyUrl, racing, new LiveState({ mirroring: true }), silentLogger, 50);
  try {
    expect(await drainer.drainOnce()).toBe(1);
    expect(raced()).toBe(true);
    // the session's row reached the mirror first, then the drainer's delete removed it
    expect((await sql(pair.targetUrl, `SELECT v FROM kv WHERE id = 1`)).rows).toEqual([]);
    await session.query('COMMIT');
    // once the session has ended, the drainer finds the key present again and re-syncs it. "Ended" is
    // judged by the cluster's oldest running transaction, which other test files' transactions on the
    // same cluster hold back: this waits for them (up to a deadline), not for a number of drains
    for (const deadline = Date.now() + 60_000; Date.now() < deadline && !(await sql(pair.targetUrl, `SELECT 1 FROM kv WHERE id = 1`)).rowCount; ) {
      await drainer.drainOnce();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await sql(pair.targetUrl, `SELECT v FROM kv WHERE id = 1`)).rows).toEqual([{ v: 'new' }]);
    expect((await sql(pair.targetUrl, `SELECT id, v FROM kv ORDER BY id`)).rows).toEqual((await sql(pair.legacyUrl, `SELECT id, v FROM kv ORDER BY id`)).rows);
  } finally {
    await session.end();
    await drainer.stop();
    await mirror.close();
  }
});

// The racing session's transaction ID is newer than every ended one when the drainer's delete lands.
// The re-check used to wait for the transactions below the snapshot's xmax (one past the newest
// ended), which did not include it: the key was checked while the session was still running, found
// missing, and never checked again. A bulk delete's keys are re-checked a batch per statement.
it('older triggers: re-checks a bulk delete\'s missing keys once the racing session has ended, a batch at a time', async () => {
  const pair = await mirroredPair('mirror_drainer_missing_bulk', `CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL); INSERT INTO kv SELECT g, 'old' FROM generate_series(1, 2500) g`);
  await olderFormat(pair.legacyUrl);
  // 2,500 out-of-band deletes: three drain batches, whose missing keys are re-checked together later
  await sql(pair.legacyUrl, `DELETE FROM kv`);

  const { mirror, session, racing, raced } = await racingSession(pair, 2400);
  const drainer = new Drainer(pair.legacyUrl, racing, new LiveState({ mirroring: true }), silentLogger, 50);
  try {
    let drained = 0;
    for (let n; (n = await drainer.drainOnce()) > 0; ) drained += n;
    expect(drained).toBe(2500);
    expect(raced()).toBe(true);
    expect((await sql(pair.targetUrl, `SELECT count(*)::int AS n FROM kv`)).rows).toEqual([{ n: 0 }]);
    await session.query('COMMIT');
    for (const deadline = Date.now() + 60_000; Date.now() < deadline && !(await sql(pair.targetUrl, `SELECT 1 FROM kv WHERE id = 2400`)).rowCount; ) {
      await drainer.drainOnce();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await sql(pair.targetUrl, `SELECT id, v FROM kv ORDER BY id`)).rows).toEqual([{ id: 2400, v: 'new' }]);
    expect((await sql(pair.legacyUrl, `SELECT id, v FROM kv ORDER BY id`)).rows).toEqual([{ id: 2400, v: 'new' }]);
  } finally {
    await session.end();
    await drainer.stop();
    await mirror.close();
  }
});
