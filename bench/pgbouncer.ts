// PgBouncer as a reference proxy for the benches: what a hop through a mature
// C proxy costs on the same machine, beside Cutover's passthrough. Optional:
// null when no pgbouncer binary is on PATH (it is a Debian package, not an npm one).
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../common/local-postgres.ts';
import { startChild } from './lib.ts';

export interface Bouncer {
  port: number;
  stop(): void;
}

/** PgBouncer in session mode in front of `port`/`db` (one server connection per client, as Cutover holds). */
export async function startPgbouncer(port: number, db: string, poolSize: number): Promise<Bouncer | null> {
  const bin = spawnSync('sh', ['-c', 'command -v pgbouncer'], { encoding: 'utf8' }).stdout.trim();
  if (!bin) return null;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgbouncer-'));
  chmodSync(dir, 0o777);
  const listen = await freePort();
  const ini = path.join(dir, 'pgbouncer.ini');
  writeFileSync(ini, [
    '[databases]',
    `${db} = host=127.0.0.1 port=${port} dbname=${db} user=postgres password=postgres`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${listen}`,
    "unix_socket_dir = ''",
    // the bench's clients are its own: no client authentication to measure
    'auth_type = any',
    'pool_mode = session',
    `default_pool_size = ${poolSize}`,
    `max_client_conn = ${poolSize * 4}`,
    'ignore_startup_parameters = extra_float_digits',
  ].join('\n') + '\n');
  chmodSync(ini, 0o644);
  // PgBouncer refuses to run as root
  const asUser = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
  const child: ChildProcess = await startChild(bin, [...asUser, ini], /process up|listening on/i);
  return { port: listen, stop: () => void child.kill('SIGTERM') };
}
