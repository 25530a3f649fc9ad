// --state redis://…: a database that is no number crashed the CLI with an
// uncaught ioredis error and its stack; a database holding no migration record
// was shown as a fresh NOT_STARTED migration (a typo'd file path is refused).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { freePort } from '../harness/postgres.ts';
import { startRedis, type RedisServer } from '../harness/redis.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());

it('a Redis state URL naming no number, or a database without the migration, is refused in one line with exit 1, secret redacted', async () => {
  const nobody = `127.0.0.1:${await freePort()}`;
  const bad = await cli(['status', '--control', nobody, '--state', `redis://:hunter2@127.0.0.1:${redis.port}/abc`]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toBe(`cutover: state: the Redis database in redis://:***@127.0.0.1:${redis.port}/abc must be a number, not "abc"\n`);
  const empty = await cli(['status', '--control', nobody, '--state', `${redis.url}/3`]);
  expect(empty.code).toBe(1);
  expect(empty.stderr.trim().split('\n')).toHaveLength(1);
  expect(empty.stderr).toContain(`no migration state in ${redis.url}/3`);
});
