// --state rediss://… (Redis over TLS) pointed at a plain Redis: the TLS
// handshake stalled and the command said "state store … unreachable: Stream
// isn't writeable and enableOfflineQueue options is false" (a proxy ran
// degraded, retrying for ever). Now one line naming the mismatch, exit 1.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { freePort } from '../harness/postgres.ts';
import { startRedis, type RedisServer } from '../harness/redis.ts';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis?.stop());

it('rediss:// at a plain Redis: one line with the TLS hint, password redacted, exit 1; the proxy does not start', async () => {
  const state = `rediss://:Tls-Pw-6622@127.0.0.1:${redis.port}/0`;
  const shown = `rediss://:***@127.0.0.1:${redis.port}/0`;
  const hint = `cutover: state store ${shown}: the server speaks plain Redis, not TLS: use redis:// (rediss:// is Redis over TLS), or enable TLS on the server\n`;
  const status = await cli(['status', '--control', `127.0.0.1:${await freePort()}`, '--state', state]);
  expect(status.code).toBe(1);
  expect(status.stderr).toBe(hint);
  const proxy = await cli(['proxy', '--source', 'postgres://app@127.0.0.1:1/app', '--listen', `127.0.0.1:${await freePort()}`, '--control', `127.0.0.1:${await freePort()}`, '--state', state], {}, { timeoutMs: 60_000 });
  expect(proxy.code).toBe(1);
  expect(proxy.stderr).toBe(hint);
  expect(status.stdout + proxy.stdout).toBe('');
});
