// The backup taken before capture changes anything on the source: SQLite's
// online backup API (a consistent copy while the application writes), or
// pg_dump in custom format from a pg_dump at least as new as the server. The
// file is created 0600 (it holds password hashes), its SHA-256 is written
// beside it and recorded in the state file.
import { execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, createReadStream, existsSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { onInterrupt } from '../common/interrupt.ts';
import { makeDir } from '../common/make-dir.ts';
import path from 'node:path';
import { promisify } from 'node:util';
import type Database from 'better-sqlite3';
import { openSqliteFile, openStateFile } from '../common/sqlite-file.ts';
import { pgClient, pgClientConfig } from '../common/pg-config.ts';
import { parseDbUrl } from '../common/urls.ts';

const run = promisify(execFile);

export interface BackupResult {
  file: string;
  bytes: number;
  sha256: string;
  seconds: number;
}

export class BackupError extends Error {}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function takeBackup(sourceUrl: string, dir: string, statePath?: string): Promise<BackupResult> {
  const started = Date.now();
  const src = parseDbUrl(sourceUrl, 'source');
  makeDir(dir, '--backup-dir', 0o700);
  // opened before the dump: a state file the backup cannot be recorded in is said before an hour of pg_dump, not after
  const state = statePath && !statePath.startsWith('redis') ? openRecord(statePath) : null;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  let file: string | null = null;
  let dump: ChildProcess | null = null;
  // interrupted (Ctrl-C), a partial file would pass for a backup, and pg_dump (a process of its own) go on writing it
  const stopWatching = onInterrupt(() => {
    dump?.kill('SIGTERM');
    if (file) for (const f of [file, file + '.sha256']) rmSync(f, { force: true });
  });
  try {
    if (src.kind === 'sqlite') {
      // the source opened first: a missing one left an empty backup file behind
      const db = openSqliteFile(src.path, { readonly: true, fileMustExist: true });
      try {
        file = path.join(dir, `${path.basename(src.path, path.extname(src.path))}-${stamp}.db`);
        closeSync(openSync(file, 'wx', 0o600));
        await db.backup(file);
      } finally {
        db.close();
      }
    } else {
      const bin = await pgDumpFor(sourceUrl);
      file = path.join(dir, `${src.database}-${stamp}.dump`);
      closeSync(openSync(file, 'wx', 0o600));
      const cfg = pgClientConfig(sourceUrl);
      // credentials through the environment: never on a command line others can read
      const env = { ...process.env, PGHOST: String(cfg.host), PGPORT: String(cfg.port), PGUSER: String(cfg.user), PGPASSWORD: String(cfg.password ?? ''), PGDATABASE: String(cfg.database), PGSSLMODE: src.sslmode ?? 'prefer' };
      const dumping = run(bin, ['--format=custom', '--no-password', '--file', file], { env, maxBuffer: 16 << 20 });
      dump = dumping.child;
      try {
        await dumping;
      } catch (e) {
        throw new BackupError(`pg_dump failed: ${String((e as { stderr?: string }).stderr ?? (e as Error).message).trim().split('\n')[0]}`);
      }
    }
    chmodSync(file, 0o600);
    const sum = await sha256(file);
    writeFileSync(file + '.sha256', `${sum}  ${path.basename(file)}\n`, { mode: 0o600 });
    const result = { file, bytes: statSync(file).size, sha256: sum, seconds: (Date.now() - started) / 1000 };
    state?.prepare('INSERT OR REPLACE INTO backups VALUES (?, ?, ?, ?)').run(result.file, result.bytes, result.sha256, new Date().toISOString());
    return result;
  } catch (e) {
    // a backup that failed half-way (a partial dump, or none recorded) would pass for one to restore from
    if (file) for (const f of [file, file + '.sha256']) rmSync(f, { force: true });
    throw e;
  } finally {
    stopWatching();
    state?.close();
  }
}

function openRecord(statePath: string): Database.Database {
  makeDir(path.dirname(path.resolve(statePath)), '--state');
  return openStateFile(statePath, (d) => {
    d.pragma('busy_timeout = 5000');
    d.exec('CREATE TABLE IF NOT EXISTS backups (file TEXT PRIMARY KEY, bytes INTEGER NOT NULL, sha256 TEXT NOT NULL, taken_at TEXT NOT NULL)');
  });
}

/** A pg_dump whose major version is at least the server's. */
async function pgDumpFor(url: string): Promise<string> {
  const c = pgClient(url);
  await c.connect();
  let server: number;
  try {
    server = Math.floor(Number((await c.query('SHOW server_version_num')).rows[0].server_version_num) / 10000);
  } finally {
    await c.end();
  }
  const candidates: string[] = [];
  if (process.env.CUTOVER_PG_BIN) candidates.push(path.join(process.env.CUTOVER_PG_BIN, 'pg_dump'));
  if (existsSync('/usr/lib/postgresql')) for (const v of readdirSync('/usr/lib/postgresql')) candidates.push(`/usr/lib/postgresql/${v}/bin/pg_dump`);
  candidates.push('pg_dump');
  let best: { bin: string; major: number } | null = null;
  for (const bin of candidates) {
    try {
      const { stdout } = await run(bin, ['--version']);
      const major = Number(/(\d+)(?:\.\d+)?/.exec(stdout)?.[1]);
      if (major >= server && (!best || major < best.major)) best = { bin, major };
    } catch {
      /* not installed */
    }
  }
  if (!best) throw new BackupError(`no pg_dump ${server} or newer found for this PostgreSQL ${server} source (install postgresql-client-${server}, set CUTOVER_PG_BIN, or pass --skip-backup)`);
  return best.bin;
}
