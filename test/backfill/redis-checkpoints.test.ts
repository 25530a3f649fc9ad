// backfill's checkpoints in a Redis --state that refuses the password or does
// not answer: ioredis printed "[ioredis] Unhandled error event" with a stack for
// every attempt, then "cutover: Reached the max retries per request limit" (or
// a bare "WRONGPASS …") without naming the store. Now one line naming it, the
// password redacted, exit 1.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';
import { startRedis, type RedisServer } from '../harness/redis.ts';

let pair: DbPair;
let guarded: RedisServer;
beforeAll(async () => {
  pair = await databasePair('redis_checkpoints');
  await sql(pair.legacyUrl, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)');
  await sql(pair.targetUrl, 'CREATE TABLE t (id int PRIMARY KEY)');
  // a server of its own: the password must not lock other tests out of a shared one
  guarded = await startRedis();
  const admin = new Redis(guarded.url);
  await admin.config('SET', 'requirepass', 'right-pass-42');
  admin.disconnect();
});
afterAll(() => guarded?.stop());

const backfill = (state: string) => cli(['backfill', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--state', state], {}, { timeoutMs: 60_000 });

it('a Redis nobody listens on: one line naming the store and the connection error', async () => {
  const port = await freePort();
  const r = await backfill(`redis://:hunter2-secret@127.0.0.1:${port}/0`);
  expect(r.code).toBe(1);
  expect(r.stderr).not.toContain('Unhandled error event');
  expect(r.stderr.split('\n').filter((l) => l.startsWith('cutover: '))).toEqual([`cutover: state store redis://:***@127.0.0.1:${port}/0: connect ECONNREFUSED 127.0.0.1:${port}`]);
});

it('a Redis that refuses the password: one line naming the store and WRONGPASS, the password not shown', async () => {
  const r = await backfill(`redis://:wrong-pass-17@127.0.0.1:${guarded.port}/0`);
  expect(r.code).toBe(1);
  expect(r.stderr).not.toContain('Unhandled error event');
  expect(r.stderr).not.toContain('wrong-pass-17');
  expect(r.stderr.split('\n').filter((l) => l.startsWith('cutover: '))).toEqual([expect.stringMatching(new RegExp(`^cutover: state store redis://:\\*\\*\\*@127\\.0\\.0\\.1:${guarded.port}/0: WRONGPASS `))]);
});
