// A row the new database itself refuses (a value taken by a row only it has,
// a CHECK or an ALWAYS trigger of its own): the drainer's re-sync of that key
// fails for as long as the new database keeps refusing it. Before, the whole
// batch failed with it, on every pass: a write beside the proxy to any other
// table never reached the new database (t: 0 rows there, 2 on the source).
// And since no session's apply had failed, reads were not tripped: a read
// routed there answered without the refused rows the source had committed
// (count 0 where the source has 1).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MirrorApplyError, type Change } from '../../proxy/mirror/apply.ts';
import { Drainer } from '../../proxy/mirror/drainer.ts';
import { applyIsolating, ISOLATION_BUDGET, requeued } from '../../proxy/mirror/refused-rows.ts';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair, proxyWithoutDrainer } from './mirrored-pair.ts';

const SCHEMA = `
  CREATE TABLE u (id int PRIMARY KEY, code text UNIQUE);
  CREATE TABLE t (id int PRIMARY KEY, v text);
  CREATE TABLE picky (id int PRIMARY KEY, v int);
`;
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_drainer_refused', SCHEMA);
  // only the new database has these: a row holding code 'X', and a trigger that fires on the mirror's writes too
  await sql(pair.targetUrl, `
    INSERT INTO u VALUES (1000, 'X');
    CREATE FUNCTION no_negatives() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.v < 0 THEN RAISE EXCEPTION 'picky: % is negative', NEW.v; END IF; RETURN NEW; END $$;
    CREATE TRIGGER no_negatives BEFORE INSERT OR UPDATE ON picky FOR EACH ROW EXECUTE FUNCTION no_negatives();
    ALTER TABLE picky ENABLE ALWAYS TRIGGER no_negatives;`);
  // the drainer runs only when the test says so
  tp = await proxyWithoutDrainer(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

/** One pass of the proxy's own drainer (the background one is off); its error, if any. */
async function drainOnce(): Promise<Error | null> {
  try {
    await Drainer.prototype.drainOnce.call(tp.proxy.drainer as Drainer);
    return null;
  } catch (e) {
    return e as Error;
  }
}

const onTarget = async (q: string) => (await sql(pair.targetUrl, q)).rows;
const waiting = async () => (await sql(pair.legacyUrl, 'SELECT tbl, pk::text FROM cutover.changes ORDER BY seq')).rows;

describe('rows the new database refuses, written beside the proxy', () => {
  it('hold back nothing queued behind them, stay queued, and trip reads', async () => {
    // beside the proxy (a cron job, psql): change rows for the drainer, the refused ones first
    await sql(pair.legacyUrl, `INSERT INTO u VALUES (1, 'X')`);
    await sql(pair.legacyUrl, `INSERT INTO picky VALUES (1, -5), (2, 7)`);
    await sql(pair.legacyUrl, `INSERT INTO t VALUES (1, 'behind'), (2, 'behind too')`);
    await drainOnce();
    expect(await onTarget('SELECT id, v FROM t ORDER BY id')).toEqual([{ id: 1, v: 'behind' }, { id: 2, v: 'behind too' }]);
    expect(await onTarget('SELECT id, v FROM picky ORDER BY id')).toEqual([{ id: 2, v: 7 }]);
    expect(await onTarget('SELECT id FROM u ORDER BY id')).toEqual([{ id: 1000 }]);
    // the refused keys wait for the next pass, nothing else
    expect(await waiting()).toEqual([
      { tbl: '"public"."u"', pk: '{"id": 1}' },
      { tbl: '"public"."picky"', pk: '{"id": 1}' },
    ]);
    // the new database lacks rows the source committed: reads stay on the source
    expect(tp.live.get().tripped).toMatch(/mirror write failed/);
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      expect((await c.query('SELECT count(*)::int AS n FROM u WHERE id = 1')).rows).toEqual([{ n: 1 }]);
      expect((await c.query('SELECT count(*)::int AS n FROM picky')).rows).toEqual([{ n: 2 }]);
    } finally {
      await c.end();
    }
  });

  it('arrive once the new database takes them', async () => {
    expect(await drainOnce()).toBeTruthy();
    expect(await waiting()).toHaveLength(2);
    await sql(pair.targetUrl, `DELETE FROM u WHERE id = 1000; ALTER TABLE picky DISABLE TRIGGER no_negatives`);
    expect(await drainOnce()).toBeNull();
    expect(await waiting()).toEqual([]);
    expect(await onTarget('SELECT id, code FROM u ORDER BY id')).toEqual([{ id: 1, code: 'X' }]);
    expect(await onTarget('SELECT id, v FROM picky ORDER BY id')).toEqual([{ id: 1, v: -5 }, { id: 2, v: 7 }]);
  });
});

describe('isolating the rows the mirror refuses', () => {
  const change = (id: number): Change => ({ seq: id, tbl: '"public"."t"', op: 'U', pk: `{"id": ${id}}`, row: `{"id": ${id}}` });
  const refusal = () => Object.assign(new MirrorApplyError('mirror apply failed: refused (test)'), { code: '23505' });

  it('applies the rest in the source\'s order, and spends a bounded number of failed applies', async () => {
    const applied: number[] = [];
    let failed = 0;
    const refuse = (bad: (id: number) => boolean) => async (list: Change[]) => {
      if (list.some((c) => bad(c.seq))) {
        failed++;
        throw refusal();
      }
      applied.push(...list.map((c) => c.seq));
    };
    const batch = Array.from({ length: 1000 }, (_, i) => change(i + 1));
    const one = await applyIsolating(refuse((id) => id === 500), batch);
    expect(one?.changes.map((c) => c.seq)).toEqual([500]);
    expect(applied).toEqual(batch.map((c) => c.seq).filter((id) => id !== 500));
    expect(failed).toBeLessThanOrEqual(11);
    // every row refused: the budget is spent, the rest goes back untried
    applied.length = 0;
    failed = 0;
    const all = await applyIsolating(refuse(() => true), batch);
    expect(all!.changes.length + all!.untried.length).toBe(1000);
    // and the rest once more, whole (one table)
    expect(failed).toBe(ISOLATION_BUDGET + 1);
    expect(applied).toEqual([]);
  });

  it('rows behind a run of refused keys longer than the budget go first at the next pass', async () => {
    const applied: number[] = [];
    const apply = async (list: Change[]) => {
      if (list.some((c) => c.seq <= 100)) throw refusal();
      applied.push(...list.map((c) => c.seq));
    };
    // 100 refused keys, then 50 good ones: the budget is spent on the first before any good one is tried;
    // each pass puts the keys it found refused behind the rest (before, the same 24 failures every pass, none applied)
    let queue = Array.from({ length: 150 }, (_, i) => change(i + 1));
    let passes = 0;
    while (applied.length < 50 && passes++ < 10) {
      const r = await applyIsolating(apply, queue);
      queue = (r ? requeued(r).map((k) => JSON.parse(k.pk).id as number) : []).map(change);
    }
    expect(passes).toBeLessThanOrEqual(10);
    expect(applied.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 101));
    expect(queue.map((c) => c.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('a table past the budget holds back no other table of the batch', async () => {
    const applied: string[] = [];
    // as Drainer.currentRows gives a batch: grouped by table, here 60 refused rows of u before 55 good ones of t
    const batch = [
      ...Array.from({ length: 60 }, (_, i): Change => ({ ...change(i + 1), tbl: '"public"."u"' })),
      ...Array.from({ length: 55 }, (_, i) => change(100 + i)),
    ];
    const r = await applyIsolating(async (list) => {
      if (list.some((c) => c.tbl === '"public"."u"')) throw refusal();
      applied.push(...list.map((c) => c.pk));
    }, batch);
    expect(applied).toHaveLength(55);
    expect(requeued(r!)).toHaveLength(60);
  });

  it('a mirror that fails every row alike (no refusal of rows) fails the batch at once', async () => {
    let calls = 0;
    const down = async () => {
      calls++;
      throw Object.assign(new MirrorApplyError('mirror apply failed: connection to the target database closed'), { code: undefined });
    };
    await expect(applyIsolating(down, [change(1), change(2)])).rejects.toThrow(/connection/);
    expect(calls).toBe(1);
    expect(await applyIsolating(async () => undefined, [change(1)])).toBeNull();
  });
});
