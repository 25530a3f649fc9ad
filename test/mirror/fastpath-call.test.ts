// A fastpath FunctionCall outside a transaction block commits on its own, and
// the function may write. The proxy sent it to the source as it was: its rows
// reached the new database only when the drainer came by, so a read routed
// there right after the call's answer did not see them. It is now wrapped as
// an autocommit write: mirrored before the client gets its answer.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair, proxyWithoutDrainer } from './mirrored-pair.ts';
import { exchangeAfterLogin as exchange, int16, int32, msg, query } from '../proxy/raw-wire.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_fastpath_call', `
    CREATE TABLE t (id int PRIMARY KEY);
    CREATE FUNCTION put(i int) RETURNS int LANGUAGE sql AS 'INSERT INTO t VALUES (i) RETURNING i'`);
  // only a session's own drain-and-apply can put a row on the target
  tp = await proxyWithoutDrainer(pair, { reads: 100, auth: 'trust' });
});
afterAll(async () => {
  await tp?.close();
});

/** A FunctionCall of `oid` with int4 arguments, all in binary, result in binary. */
const call = (oid: number, ...args: number[]) =>
  msg('F', int32(oid), int16(1), int16(1), int16(args.length), ...args.flatMap((a) => [int32(4), int32(a)]), int16(1));

it('a fastpath call that writes, outside a transaction block, is on the new database when the client gets its answer', async () => {
  const oid = Number((await sql(pair.legacyUrl, `SELECT 'put'::regproc::oid AS oid`)).rows[0].oid);
  const url = `postgres://postgres@127.0.0.1:${tp.port}/${pair.name}`;
  // the read right after the call is routed to the new database
  expect(await exchange(url, [call(oid, 5), query('SELECT count(*) FROM t')], 2)).toBe('V Z:I T D:1 C:SELECT 1 Z:I');
  expect((await sql(pair.targetUrl, 'SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(1);
  // one that fails leaves nothing anywhere, and the session goes on outside a block
  expect(await exchange(url, [call(oid, 5), query('SELECT count(*) FROM t')], 2)).toBe('E:23505:ERROR Z:I T D:1 C:SELECT 1 Z:I');
});
