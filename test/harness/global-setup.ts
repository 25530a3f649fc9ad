// Starts the suite's shared servers once: a legacy and a new PostgreSQL cluster
// and (when installed) Redis. Test files create their own databases on them.
import type { TestProject } from 'vitest/node';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
let scratch: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  // Every temporary file the tests, the CLIs they run and the servers they start make (state
  // databases, configs, backups, sockets) lands under one directory, removed at the end: the test
  // workers and their children inherit TMPDIR, which os.tmpdir() and mkdtemp follow.
  // Mode 1777 as /tmp's own: the clusters run as the postgres user when the suite runs as root.
  scratch = mkdtempSync(path.join(os.tmpdir(), 'cutover-test-'));
  chmodSync(scratch, 0o1777);
  process.env.TMPDIR = scratch;
  [legacy, target] = await Promise.all([startCluster({ name: 'legacy' }), startCluster({ name: 'new' })]);
  redis = redisAvailable() ? await startRedis() : undefined;
  const info = (c: Cluster) => ({ host: c.host, port: c.port, url: c.url(), dataDir: c.dataDir, binDir: c.binDir });
  project.provide('legacy', info(legacy));
  project.provide('target', info(target));
  project.provide('redisUrl', redis?.url ?? null);
}

export async function teardown(): Promise<void> {
  await Promise.all([legacy?.destroy(), target?.destroy(), redis?.stop()]);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}
