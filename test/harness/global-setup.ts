// Starts the suite's shared servers once: a legacy and a new PostgreSQL cluster
// and (when installed) Redis. Test files create their own databases on them.
import type { TestProject } from 'vitest/node';
import { startCluster, type Cluster } from './postgres.ts';
import { redisAvailable, startRedis, type RedisServer } from './redis.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    legacy: { host: string; port: number; url: string; dataDir: string; binDir: string };
    target: { host: string; port: number; url: string; dataDir: string; binDir: string };
    redisUrl: string | null;
  }
}

let legacy: Cluster | undefined;
let target: Cluster | undefined;
let redis: RedisServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  [legacy, target] = await Promise.all([startCluster({ name: 'legacy' }), startCluster({ name: 'new' })]);
  redis = redisAvailable() ? await startRedis() : undefined;
  const info = (c: Cluster) => ({ host: c.host, port: c.port, url: c.url(), dataDir: c.dataDir, binDir: c.binDir });
  project.provide('legacy', info(legacy));
  project.provide('target', info(target));
  project.provide('redisUrl', redis?.url ?? null);
}

export async function teardown(): Promise<void> {
  await Promise.all([legacy?.destroy(), target?.destroy(), redis?.stop()]);
}
