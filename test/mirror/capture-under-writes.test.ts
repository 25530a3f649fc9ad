// Installing capture (and promote's probe of the reverse mirror, which is the
// same transaction rolled back) on tables a live application writes to. The
// triggers' locks were waited for without limit: a writer holding one table
// and then wanting another the install had already taken made a deadlock,
// and the server cancelled one side, the application's transaction or the
// install (a promote refused with "deadlock detected" under writes). Now the
// install gives up each wait early and retries: the writer commits, the
// install succeeds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { installCapture } from '../../proxy/capture/pg-capture.ts';

let pair: DbPair;
const clients: pg.Client[] = [];

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: pair.legacyUrl });
  await c.connect();
  clients.push(c);
  return c;
}

beforeAll(async () => {
  pair = await databasePair('capture_under_writes');
  await sql(pair.legacyUrl, `CREATE TABLE a (id int PRIMARY KEY, v int); CREATE TABLE b (id int PRIMARY KEY, v int);
    INSERT INTO a VALUES (1, 0); INSERT INTO b VALUES (1, 0);`);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
});

/** Until `pid` waits for a lock (checked every 10 ms, at most 5 s). */
async function waitsForLock(watch: pg.Client, pid: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const r = await watch.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [pid]);
    if (r.rows[0]?.wait_event_type === 'Lock') return;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`pid ${pid} never waited for a lock`);
}

describe('capture installed beside a writer holding the tables in the other order', () => {
  for (const probe of [true, false]) {
    it(`${probe ? 'the probe (rolled back)' : 'the install'} and the writer both succeed, no deadlock`, async () => {
      const writer = await client();
      const installer = await client();
      const watch = await client();
      const installerPid = (await installer.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      await writer.query('BEGIN');
      await writer.query('UPDATE b SET v = v + 1 WHERE id = 1');
      // the install takes a, then waits for b, which the writer holds
      const installing = installCapture(installer, undefined, { probe }).then(
        (tables) => ({ ok: true as const, tables: tables.map((t) => t.name) }),
        (e: Error & { code?: string }) => ({ ok: false as const, code: e.code, message: e.message }),
      );
      await waitsForLock(watch, installerPid);
      // the writer now wants a: a cycle, unless the install lets go
      const wrote = await writer.query('UPDATE a SET v = v + 1 WHERE id = 1').then(
        () => writer.query('COMMIT').then(() => 'committed'),
        async (e: Error & { code?: string }) => {
          await writer.query('ROLLBACK');
          return `failed: ${e.code} ${e.message}`;
        },
      );
      expect(wrote).toBe('committed');
      expect(await installing).toEqual({ ok: true, tables: ['a', 'b'] });
      const triggers = Number((await sql(pair.legacyUrl, `SELECT count(*) AS n FROM pg_trigger WHERE tgname LIKE 'cutover_capture_%'`)).rows[0].n);
      if (probe) expect(triggers).toBe(0);
      else expect(triggers).toBeGreaterThan(0);
      expect((await sql(pair.legacyUrl, 'SELECT (SELECT v FROM a) AS a, (SELECT v FROM b) AS b')).rows[0]).toEqual({ a: probe ? 1 : 2, b: probe ? 1 : 2 });
    }, 30_000);
  }
});

// `cutover capture install` run again (idempotent; `cutover run` re-runs the capture stage) while
// the tables are written. The refresh took the change table first, then each table's triggers; a
// writer holds its table from its statement's start and wants the change table when its capture
// trigger fires at the statement's end: a cycle on every attempt while writes flowed (pgbench
// tpcb-like through the proxy: 47 of 47 attempts failed, exit 1 after 30 s). The tables are now
// taken first, in the writers' order: table, then change table.
describe('capture installed again while writers keep every table busy', () => {
  it('the refresh gets its locks and succeeds; the writers all commit', async () => {
    await installCapture(await client());
    let stop = false;
    let committed = 0;
    const failures: string[] = [];
    const writers = await Promise.all([1, 2, 3].map(() => client()));
    const loops = writers.map(async (w) => {
      while (!stop) {
        try {
          await w.query('BEGIN');
          // the table is held from here; the change table only once the UPDATE's trigger fires
          await w.query('LOCK TABLE a IN ROW EXCLUSIVE MODE');
          await w.query('SELECT pg_sleep(0.05)');
          await w.query('UPDATE a SET v = v + 1 WHERE id = 1');
          await w.query('COMMIT');
          committed++;
        } catch (e) {
          failures.push((e as Error).message);
          await w.query('ROLLBACK').catch(() => undefined);
        }
      }
    });
    await new Promise((r) => setTimeout(r, 200));
    const outcome = await installCapture(await client(), undefined, { deadline: Date.now() + 5_000 }).then(
      (tables) => ({ ok: true as const, tables: tables.map((t) => t.name) }),
      (e: Error) => ({ ok: false as const, message: e.message }),
    );
    stop = true;
    await Promise.all(loops);
    expect(outcome).toEqual({ ok: true, tables: ['a', 'b'] });
    expect(failures).toEqual([]);
    expect(committed).toBeGreaterThan(0);
  }, 30_000);
});
