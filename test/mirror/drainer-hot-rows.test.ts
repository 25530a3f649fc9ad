// Writers that keep a few hot rows locked (pgbench tpcb-like's branches and tellers) while the
// drainer re-syncs a backlog (left by a restart of the new database). A batch share-locks its
// keys one table after another; a writer holding a row the batch wants next, and then wanting one
// the batch already holds, is a cycle the drain's lock_timeout breaks — on every attempt while the
// writes go on: through the proxy, 8168 change rows stayed waiting and reads could not resume.
import { expect, it } from 'vitest';
import pg from 'pg';
import { LiveState } from '../../common/live-state.ts';
import { silentLogger } from '../../common/log.ts';
import { MirrorApplier } from '../../proxy/mirror/apply.ts';
import { Drainer } from '../../proxy/mirror/drainer.ts';
import { compareDatabases } from '../harness/compare.ts';
import { sql } from '../harness/databases.ts';
import { mirroredPair } from './mirrored-pair.ts';

it('drains a backlog while a writer keeps taking the same rows in the other order', async () => {
  const pair = await mirroredPair('mirror_drainer_hot_rows', `CREATE TABLE a (id int PRIMARY KEY, v int NOT NULL); CREATE TABLE b (id int PRIMARY KEY, v int NOT NULL)`);
  // the backlog, oldest first: a's row, then b's (written beside the proxy, the drainer's to carry)
  await sql(pair.legacyUrl, 'INSERT INTO a VALUES (1, 0)');
  await sql(pair.legacyUrl, 'INSERT INTO b VALUES (1, 0)');
  const backlogEnd = Number((await sql(pair.legacyUrl, 'SELECT max(seq) AS s FROM cutover.changes')).rows[0].s);
  const mirror = new MirrorApplier(pair.targetUrl);
  const drainer = new Drainer(pair.legacyUrl, mirror, new LiveState({ mirroring: true }), silentLogger, 50);
  const writer = new pg.Client({ connectionString: pair.legacyUrl });
  await writer.connect();
  let stop = false;
  let committed = 0;
  // b's row held, then a's wanted: the batch takes a's row first (its change row is older), then waits for b's
  const writing = (async () => {
    while (!stop) {
      await writer.query('BEGIN');
      await writer.query('UPDATE b SET v = v + 1 WHERE id = 1');
      await writer.query('SELECT pg_sleep(0.05)');
      await writer.query('UPDATE a SET v = v + 1 WHERE id = 1');
      await writer.query('COMMIT');
      committed++;
    }
  })();
  try {
    const left = async () => Number((await sql(pair.legacyUrl, 'SELECT count(*) AS n FROM cutover.changes WHERE seq <= $1', [backlogEnd])).rows[0].n);
    for (let attempt = 0; attempt < 30 && (await left()) > 0; attempt++) await drainer.drainOnce();
    const backlogLeft = await left();
    stop = true;
    await writing;
    expect(backlogLeft).toBe(0);
    expect(committed).toBeGreaterThan(0);
    // the writer's own changes too, once it stopped: both sides equal
    await drainer.flush();
    while ((await drainer.drainOnce()) > 0);
    expect((await compareDatabases(pair.legacyUrl, pair.targetUrl, ['a', 'b'])).filter((d) => !d.equal)).toEqual([]);
  } finally {
    stop = true;
    await writing.catch(() => undefined);
    await writer.end();
    await drainer.stop();
    await mirror.close();
  }
}, 60_000);
