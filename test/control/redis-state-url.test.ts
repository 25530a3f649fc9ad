// --state redis://…: a database that is no number crashed the CLI with an
// uncaught ioredis error and its stack; a database holding no migration record
// was shown as a fresh NOT_STARTED migration (a typo'd file path is refused).
// A wrong password was reported as ioredis's "Stream isn't writeable".
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
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

it('a Redis that refuses the password: one line naming the authentication failure, password redacted, exit 1 at once', async () => {
  // a server of its own: the password must not lock the other tests out of the shared one
  const guarded = await startRedis();
  try {
    const admin = new Redis(guarded.url);
    await admin.config('SET', 'requirepass', 'right-pass-42');
    admin.disconnect();
    const nobody = `127.0.0.1:${await freePort()}`;
    const t0 = Date.now();
    const wrong = await cli(['status', '--control', nobody, '--state', `redis://:wrong-pass-17@127.0.0.1:${guarded.port}/0`]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(new RegExp(`^cutover: state store redis://:\\*\\*\\*@127\\.0\\.0\\.1:${guarded.port}/0: authentication failed \\(WRONGPASS [^\\n]*\\); check the password in --state\\n$`));
    expect(wrong.stdout + wrong.stderr).not.toContain('wrong-pass-17');
    expect(Date.now() - t0).toBeLessThan(10_000);
    const none = await cli(['rollback', '--control', nobody, '--state', `${guarded.url}/0`]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^cutover: state store redis:\/\/127\.0\.0\.1:\d+\/0: authentication failed \(NOAUTH [^\n]*\); check the password in --state\n$/);
  } finally {
    await guarded.stop();
  }
});

it('a Redis nobody listens on: one line naming the connection error, not ioredis\'s "Stream isn\'t writeable"', async () => {
  const nobody = `127.0.0.1:${await freePort()}`;
  const port = await freePort();
  const r = await cli(['status', '--control', nobody, '--state', `redis://:hunter2@127.0.0.1:${port}/0`]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(`cutover: state store redis://:***@127.0.0.1:${port}/0 unreachable: not connected (connect ECONNREFUSED 127.0.0.1:${port})\n`);
});
