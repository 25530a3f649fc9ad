// A simple Query (or FunctionCall) sent behind extended-protocol messages whose
// Sync has not come yet. PostgreSQL runs the messages first, then the Query,
// which ends their implicit transaction; if one of them failed it skips the
// Query up to the Sync. The proxy held the messages until a Sync and sent the
// Query ahead of them (answers out of order, a routed read running while the
// source skipped it). Each exchange is run directly on the source and through
// the mirroring proxy (reads 100 %), and the answers compared message by message.
import type { Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair, proxyWithoutDrainer } from './mirrored-pair.ts';
import { bind, exchangeAfterLogin as exchange, execute, int32, msg, parse, query, sync } from '../proxy/raw-wire.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_query_behind_ext', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
  // only a session's own drain-and-apply can put a row on the target
  tp = await proxyWithoutDrainer(pair, { reads: 100, auth: 'trust' });
});
afterAll(async () => {
  await tp?.close();
});

const proxyUrl = () => `postgres://postgres@127.0.0.1:${tp.port}/${pair.name}`;

async function both(messages: (id: number) => Buffer[], readies: number): Promise<{ direct: string; proxy: string }> {
  const direct = await exchange(pair.legacyUrl, messages(100), readies);
  const proxy = await exchange(proxyUrl(), messages(200), readies);
  return { direct, proxy };
}

async function onTarget(id: number): Promise<string | null> {
  const rows = await sql(pair.targetUrl, `SELECT v FROM t WHERE id = ${id}`);
  return (rows.rows[0]?.v as string | undefined) ?? null;
}

describe('a Query behind extended-protocol messages without their Sync', () => {
  it('is answered after them, in the order PostgreSQL answers', async () => {
    const r = await both(() => [parse('SELECT 5'), bind(), execute(), query('SELECT 2'), sync(), query('SELECT 3')], 3);
    expect(r.direct).toBe('1 2 D:5 C:SELECT 1 T D:2 C:SELECT 1 Z:I Z:I T D:3 C:SELECT 1 Z:I');
    expect(r.proxy).toBe(r.direct);
  });

  it('is skipped, as by PostgreSQL, when one of them failed (and nothing it says runs)', async () => {
    const r = await both((id) => [parse('SELEC 1'), query(`INSERT INTO t VALUES (${id}, 'skipped')`), query('BEGIN'), sync(), query('SELECT 3')], 2);
    expect(r.direct).toBe('E:42601:ERROR Z:I T D:3 C:SELECT 1 Z:I');
    expect(r.proxy).toBe(r.direct);
    expect((await sql(pair.legacyUrl, 'SELECT id FROM t WHERE id IN (100, 200)')).rows).toEqual([]);
  });

  it("commits a write among the messages with the Query, on the mirror before the Query's answer", async () => {
    const r = await both((id) => [parse(`INSERT INTO t VALUES (${id + 1}, 'ext')`), bind(), execute(), query('SELECT 2'), sync()], 2);
    expect(r.direct).toBe('1 2 C:INSERT 0 1 T D:2 C:SELECT 1 Z:I Z:I');
    expect(r.proxy).toBe(r.direct);
    expect(await onTarget(201)).toBe('ext');
  });

  it("mirrors the Query's own write", async () => {
    const r = await both((id) => [parse('SELECT 7'), bind(), execute(), query(`INSERT INTO t VALUES (${id + 2}, 'query')`), sync()], 2);
    expect(r.direct).toBe('1 2 D:7 C:SELECT 1 C:INSERT 0 1 Z:I Z:I');
    expect(r.proxy).toBe(r.direct);
    expect(await onTarget(202)).toBe('query');
  });

  it('rolls the messages back with a failing Query, on both databases', async () => {
    const r = await both((id) => [parse(`INSERT INTO t VALUES (${id + 3}, 'undone')`), bind(), execute(), query('SELECT 1/0'), sync()], 2);
    expect(r.direct).toBe('1 2 C:INSERT 0 1 E:22012:ERROR Z:I Z:I');
    expect(r.proxy).toBe(r.direct);
    expect((await sql(pair.legacyUrl, 'SELECT id FROM t WHERE id IN (103, 203)')).rows).toEqual([]);
    expect(await onTarget(203)).toBeNull();
  });
});

describe('transaction control in a Query behind a write without its Sync', () => {
  it('BEGIN makes the write part of the block the client then rolls back, as the server converts its implicit transaction', async () => {
    const r = await both((id) => [parse(`INSERT INTO t VALUES (${id + 5}, 'begun')`), bind(), execute(), query('BEGIN'), sync(), query('ROLLBACK')], 3);
    expect(r.direct).toBe('1 2 C:INSERT 0 1 C:BEGIN Z:T Z:T C:ROLLBACK Z:I');
    expect(r.proxy).toBe(r.direct);
    expect((await sql(pair.legacyUrl, 'SELECT id FROM t WHERE id IN (105, 205)')).rows).toEqual([]);
  });

  it('COMMIT commits it, on the mirror before its answer', async () => {
    const r = await both((id) => [parse(`INSERT INTO t VALUES (${id + 6}, 'committed')`), bind(), execute(), query('COMMIT'), sync()], 2);
    expect(r.direct).toBe('1 2 C:INSERT 0 1 C:COMMIT Z:I Z:I');
    expect(r.proxy).toBe(r.direct);
    expect(await onTarget(206)).toBe('committed');
  });
});

describe('DDL in a Query behind extended-protocol messages without their Sync', () => {
  it('is refused (0A000) as the server would fail it: the messages roll back with it, nothing is created', async () => {
    const proxy = await exchange(proxyUrl(), [parse(`INSERT INTO t VALUES (204, 'ddl')`), bind(), execute(), query('CREATE TABLE made_in_segment (a int)'), sync()], 2);
    expect(proxy).toBe('1 2 C:INSERT 0 1 E:0A000:ERROR Z:I Z:I');
    expect((await sql(pair.legacyUrl, "SELECT to_regclass('made_in_segment') AS r, (SELECT count(*)::int FROM t WHERE id = 204) AS n")).rows[0]).toEqual({ r: null, n: 0 });
    // behind reads only (no transaction of the proxy's around them)
    expect(await exchange(proxyUrl(), [parse('SELECT 6'), bind(), execute(), query('CREATE TABLE made_in_segment (a int)'), sync()], 2)).toBe('1 2 D:6 C:SELECT 1 E:0A000:ERROR Z:I Z:I');
    expect((await sql(pair.legacyUrl, "SELECT to_regclass('made_in_segment') AS r")).rows[0]).toEqual({ r: null });
  });
});

describe('messages sent without their Sync after one of them failed', () => {
  it('are skipped by the server up to the Sync, which alone is answered', async () => {
    const r = await both(() => [parse('SELEC 1'), msg('H'), parse('SELECT 1'), msg('H'), bind(), execute(), msg('H'), sync(), query('SELECT 3')], 2);
    expect(r.direct).toBe('E:42601:ERROR Z:I T D:3 C:SELECT 1 Z:I');
    expect(r.proxy).toBe(r.direct);
  });

  it('from a client that then hangs up: the session ends, its source connection with it', async () => {
    const c = new pg.Client({ connectionString: proxyUrl() });
    c.on('error', () => undefined);
    await c.connect();
    const pid = (c as unknown as { processID: number }).processID; // the source backend's, as the proxy passes it on
    const alive = async () => (await sql(pair.legacyUrl, 'SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rows.length > 0;
    expect(await alive()).toBe(true);
    const s = (c as unknown as { connection: { stream: Socket } }).connection.stream;
    // the failed Parse, a Query the server skips, then a Describe left without a Sync when the client goes
    s.write(Buffer.concat([parse('SELEC 1'), query('SELECT 2'), msg('D', Buffer.from('S'), 'nothing')]));
    await new Promise((r) => setTimeout(r, 300));
    s.destroy();
    let gone = false;
    for (let i = 0; i < 50 && !gone; i++) {
      await new Promise((r) => setTimeout(r, 100));
      gone = !(await alive());
    }
    expect(gone).toBe(true);
  });
});

describe('statements the proxy must not wrap', () => {
  it('LOCK outside a transaction block is refused (25P01) as by PostgreSQL, in both protocols', async () => {
    const r = await both(() => [query('LOCK TABLE t'), parse('LOCK TABLE t'), bind(), execute(), sync()], 2);
    expect(r.direct).toBe('E:25P01:ERROR Z:I 1 2 E:25P01:ERROR Z:I');
    expect(r.proxy).toBe(r.direct);
  });
});

describe('a message whose body does not read as its type says', () => {
  it('is an ERROR 08P01 after the answers before it, and the session carries on, as directly (malformed-messages.test.ts)', async () => {
    const unterminated = Buffer.concat([Buffer.from('P'), int32(4 + 6), Buffer.from('\0SELEC')]);
    const r = await both(() => [query('SELECT 1'), unterminated, sync(), query('SELECT 2')], 3);
    expect(r.direct).toBe('T D:1 C:SELECT 1 Z:I E:08P01:ERROR Z:I T D:2 C:SELECT 1 Z:I');
    expect(r.proxy).toBe(r.direct);
    // other sessions go on
    expect(await exchange(proxyUrl(), [query('SELECT 4')], 1)).toBe('T D:4 C:SELECT 1 Z:I');
  });
});
