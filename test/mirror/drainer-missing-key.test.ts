// The drainer's race with a session over a key it found missing: it cannot
// lock a row that does not exist, so a session may insert that key right
// after the drainer looked and mirror it before its own commit, and then the
// drainer's delete reaches the mirror after the session's row. Played here
// step by step (the session's part done by hand, inside the drainer's apply):
// the drainer checks such deletes again once the racing transactions ended,
// and re-syncs the key, so the mirror ends with the source's row.
import { expect, it } from 'vitest';
import pg from 'pg';
import { LiveState } from '../../common/live-state.ts';
import { silentLogger } from '../../common/log.ts';
import { DRAIN_SQL } from '../../proxy/capture/pg-capture.ts';
import { MirrorApplier, type Change, type ChangeApplier } from '../../proxy/mirror/apply.ts';
import { Drainer } from '../../proxy/mirror/drainer.ts';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair } from './mirrored-pair.ts';


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

it('a key inserted and mirrored by a session while the drainer deleted it ends on the mirror with the source row', async () => {
  const pair = await mirroredPair('mirror_drainer_missing_key', `CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL); INSERT INTO kv VALUES (1, 'old'), (2, 'two')`);
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
it('re-checks a bulk delete\'s missing keys once the racing session has ended, a batch at a time', async () => {
  const pair = await mirroredPair('mirror_drainer_missing_bulk', `CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL); INSERT INTO kv SELECT g, 'old' FROM generate_series(1, 2500) g`);
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
