// The drain runs as a prepared statement on the client's own source session,
// parsed once per connection. It must keep working, and keep every write
// mirrored, whatever the client does to its session's statements (DISCARD ALL,
// DEALLOCATE ALL, even behind the proxy's back, a statement of the same name)
// and when capture is reinstalled under the open session.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair } from './mirrored-pair.ts';
import { installCapture, removeCapture } from '../../proxy/capture/pg-capture.ts';
import { DRAIN_STATEMENT } from '../../proxy/mirror/drain-statement.ts';
import { execute, int16, msg, query, stepsAfterLogin, sync } from '../proxy/raw-wire.ts';

let pair: DbPair;
let tp: TestProxy;
let c: pg.Client;

beforeAll(async () => {
  // the test watches the drain statement through a view of its own: a client's read of
  // pg_prepared_statements itself is shown no statement of the proxy's (last case)
  pair = await mirroredPair('drain_statement', 'CREATE TABLE t (id int PRIMARY KEY, v text); CREATE VIEW prepared_here AS SELECT * FROM pg_prepared_statements');
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
  for (let i = 0; i < 50 && !tp.live.get().mirroring; i++) await new Promise((r) => setTimeout(r, 100));
  c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
});
afterAll(async () => {
  await c?.end();
  await tp?.close();
});

/** When the session's drain statement was prepared (null: it is not). */
async function preparedAt(): Promise<string | null> {
  const r = await c.query(`/* cutover:source */ SELECT prepare_time::text AS at FROM prepared_here WHERE name = $1`, [DRAIN_STATEMENT]);
  return r.rows[0]?.at ?? null;
}

async function onTarget(id: number): Promise<string | null> {
  return (await sql(pair.targetUrl, `SELECT v FROM t WHERE id = ${id}`)).rows[0]?.v ?? null;
}

it('is parsed once per source connection and then only executed', async () => {
  await c.query(`INSERT INTO t VALUES (1, 'a')`);
  const first = await preparedAt();
  expect(first).not.toBeNull();
  await c.query('BEGIN');
  await c.query(`INSERT INTO t VALUES (2, 'b')`);
  await c.query('COMMIT');
  await c.query(`UPDATE t SET v = 'a2' WHERE id = $1`, [1]);
  expect(await preparedAt()).toBe(first);
  expect([await onTarget(1), await onTarget(2)]).toEqual(['a2', 'b']);
});

it('is prepared again after the client drops it with DISCARD ALL or DEALLOCATE ALL', async () => {
  await c.query('DISCARD ALL');
  expect(await preparedAt()).toBeNull();
  await c.query(`INSERT INTO t VALUES (3, 'c')`);
  expect(await onTarget(3)).toBe('c');
  expect(await preparedAt()).not.toBeNull();

  await c.query('BEGIN');
  await c.query(`INSERT INTO t VALUES (4, 'd')`);
  await c.query('DEALLOCATE ALL');
  await c.query('COMMIT');
  expect(await onTarget(4)).toBe('d');

  // in one request with a write: the drain of that very request must prepare again
  await c.query(`DEALLOCATE ALL; INSERT INTO t VALUES (5, 'e')`);
  expect(await onTarget(5)).toBe('e');
  expect(await c.query(`SELECT count(*)::int AS n FROM cutover.changes`).then((r) => r.rows[0].n)).toBe(0);
});

it('dropped where the proxy cannot see it, fails that one transaction; the session then drains by simple Query', async () => {
  const s = new pg.Client({ connectionString: tp.url(pair.name) });
  await s.connect();
  try {
    await s.query(`INSERT INTO t VALUES (6, 'f')`);
    // the DO statement is a write, wrapped in the proxy's transaction; its drain finds the statement gone
    await expect(s.query(`DO $$ BEGIN EXECUTE 'DEALLOCATE ALL'; INSERT INTO t VALUES (7, 'lost'); END $$`)).rejects.toMatchObject({ code: '40000' });
    for (const id of [8, 13]) await s.query(`INSERT INTO t VALUES (${id}, 'h')`);
    const left = await s.query(`/* cutover:source */ SELECT count(*)::int AS n FROM prepared_here WHERE name = $1`, [DRAIN_STATEMENT]);
    expect(left.rows[0].n).toBe(0);
  } finally {
    await s.end();
  }
  expect([await onTarget(6), await onTarget(7), await onTarget(8), await onTarget(13)]).toEqual(['f', null, 'h', 'h']);
  expect((await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM t WHERE id = 7')).rows[0].n).toBe(0);
});

it('gives its name up to a client statement of the same name', async () => {
  await c.query(`INSERT INTO t VALUES (9, 'i')`);
  expect(await preparedAt()).not.toBeNull();
  const r = await c.query({ name: DRAIN_STATEMENT, text: 'SELECT $1::int + 1 AS n', values: [41] });
  expect(r.rows[0].n).toBe(42);
  await c.query(`INSERT INTO t VALUES (10, 'j')`);
  expect(await onTarget(10)).toBe('j');
  // the session drains by simple Query now: the name stays the client's
  const again = await c.query({ name: DRAIN_STATEMENT, text: 'SELECT $1::int + 1 AS n', values: [1] });
  expect(again.rows[0].n).toBe(2);
});

it('survives capture being reinstalled under the open session', async () => {
  const s = new pg.Client({ connectionString: tp.url(pair.name) });
  await s.connect();
  const drainPreparedAt = async () => (await s.query(`/* cutover:source */ SELECT prepare_time::text AS at FROM prepared_here WHERE name = $1`, [DRAIN_STATEMENT])).rows[0]?.at;
  try {
    await s.query(`INSERT INTO t VALUES (11, 'k')`);
    const before = await drainPreparedAt();
    expect(before).toBeDefined();
    const admin = new pg.Client({ connectionString: pair.legacyUrl });
    await admin.connect();
    try {
      await removeCapture(admin);
      await installCapture(admin);
    } finally {
      await admin.end();
    }
    // the drainer may have seen capture gone in between and switched mirroring off: it sees it back first
    await tp.proxy.drainer!.drainOnce();
    expect(tp.live.get().mirroring).toBe(true);
    // the change table is a new relation: the server must re-plan the prepared drain, not fail it
    await s.query(`INSERT INTO t VALUES (12, 'l')`);
    await s.query('BEGIN');
    await s.query(`UPDATE t SET v = 'k2' WHERE id = 11`);
    await s.query('COMMIT');
    expect(await drainPreparedAt()).toBe(before);
  } finally {
    await s.end();
  }
  expect([await onTarget(11), await onTarget(12)]).toEqual(['k2', 'l']);
});

it('is not among the statements a client lists in pg_prepared_statements, and is prepared again by the next drain', async () => {
  const s = new pg.Client({ connectionString: tp.url(pair.name) });
  await s.connect();
  const names = (rows: { name: string }[]) => rows.map((r) => r.name).sort();
  try {
    await s.query({ name: 'mine', text: 'SELECT $1::int AS n', values: [1] });
    await s.query(`INSERT INTO t VALUES (20, 'm')`);
    // simple Query, extended with the unnamed statement, a statement prepared before the write, one in a transaction
    expect(names((await s.query('SELECT name FROM pg_prepared_statements')).rows)).toEqual(['mine']);
    await s.query(`INSERT INTO t VALUES (21, 'n')`);
    expect(names((await s.query('SELECT name FROM pg_catalog.pg_prepared_statements WHERE $1', [true])).rows)).toEqual(['mine']);
    const listing = { name: 'listing', text: 'SELECT count(*)::int AS n FROM pg_prepared_statements' };
    expect((await s.query(listing)).rows[0].n).toBe(2);
    await s.query(`UPDATE t SET v = 'm2' WHERE id = 20`);
    expect((await s.query(listing)).rows[0].n).toBe(2);
    await s.query('BEGIN');
    await s.query(`INSERT INTO t VALUES (22, 'o')`);
    expect(names((await s.query('SELECT name FROM pg_prepared_statement()')).rows)).toEqual(['listing', 'mine']);
    await s.query('COMMIT');
    await s.query(`INSERT INTO t VALUES (23, 'p')`);
    const held = await s.query(`/* cutover:source */ SELECT count(*)::int AS n FROM prepared_here WHERE name = $1`, [DRAIN_STATEMENT]);
    expect(held.rows[0].n).toBe(1);
  } finally {
    await s.end();
  }
  expect([await onTarget(20), await onTarget(21), await onTarget(22), await onTarget(23)]).toEqual(['m2', 'n', 'o', 'p']);
});

it('is hidden from a listing parsed with a Flush and bound once its Describe is answered (asyncpg, named and unnamed)', async () => {
  // asyncpg prepares with Parse, Describe, Flush and sends Bind, Execute, Sync once the RowDescription came: the
  // segment is open on the server when the Execute shows the listing, too late for a Close with a Sync of its own
  const listing = 'SELECT string_agg(name, \',\') FROM pg_prepared_statements';
  const prepared = (name: string) => ({ messages: [msg('P', name, listing, int16(0)), msg('D', Buffer.from('S'), name), msg('H')], until: 'T' });
  const run = (name: string) => ({ messages: [msg('B', '', name, int16(0), int16(0), int16(0)), execute(), sync()], until: 'Z' });
  const write = (id: number) => ({ messages: [query(`INSERT INTO t VALUES (${id}, 'a')`)], until: 'Z' });
  const answers = await stepsAfterLogin(tp.url(pair.name), [write(40), prepared('__asyncpg_stmt_1__'), run('__asyncpg_stmt_1__'), write(41), prepared(''), run('')]);
  // as directly: the named statement only (the unnamed one is not listed)
  expect(answers.filter((_, i) => i === 2 || i === 5)).toEqual(['2 D:__asyncpg_stmt_1__ C:SELECT 1 Z:I', '2 D:__asyncpg_stmt_1__ C:SELECT 1 Z:I']);
  expect([await onTarget(40), await onTarget(41)]).toEqual(['a', 'a']);
});

it('stays hidden after the client deallocates a statement of its own (psycopg 3 evicts its statements by DEALLOCATE)', async () => {
  const s = new pg.Client({ connectionString: tp.url(pair.name) });
  await s.connect();
  try {
    await s.query({ name: 'evicted', text: 'SELECT $1::int AS n', values: [1] });
    await s.query(`INSERT INTO t VALUES (30, 'q')`);
    await s.query('DEALLOCATE evicted');
    expect((await s.query('SELECT name FROM pg_prepared_statements')).rows).toEqual([]);
    await s.query(`INSERT INTO t VALUES (31, 'r')`);
    await s.query('DISCARD TEMP');
    expect((await s.query('SELECT name FROM pg_prepared_statements')).rows).toEqual([]);
  } finally {
    await s.end();
  }
  expect([await onTarget(30), await onTarget(31)]).toEqual(['q', 'r']);
});
