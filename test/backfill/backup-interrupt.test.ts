// Ctrl-C during `cutover backup`: Node's default ended the process (exit 130,
// nothing said) and left the partial dump file, with no checksum beside it,
// while pg_dump, a process of its own, went on writing it. Now the file is
// removed, pg_dump stopped, and the command ends in one line, exit 1.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLI } from '../harness/cli.ts';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';

let pair: DbPair;
let holder: pg.Client;

beforeAll(async () => {
  pair = await databasePair('backup_interrupt');
  await sql(pair.legacyUrl, 'CREATE TABLE held (id int PRIMARY KEY)');
  // pg_dump waits for this lock: the backup is interrupted while its dump is certainly under way
  holder = new pg.Client({ connectionString: pair.legacyUrl });
  holder.on('error', () => undefined);
  await holder.connect();
  await holder.query('BEGIN; LOCK TABLE held IN ACCESS EXCLUSIVE MODE');
});
afterAll(async () => {
  await holder?.query('ROLLBACK').catch(() => undefined);
  await holder?.end();
});

const pgDumps = async () => Number((await sql(pair.legacyUrl, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pg_dump'")).rows[0].n);

it('SIGINT during a pg_dump backup: one line, exit 1, no partial file, pg_dump stopped', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-backup-int-'));
  const backups = path.join(dir, 'backups');
  const child = spawn('node', [CLI, 'backup', '--source', pair.legacyUrl, '--backup-dir', backups, '--state', path.join(dir, 'state.db')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // the dump file is made before pg_dump starts; pg_dump's session shows once it waits for the lock
  while ((await pgDumps()) === 0) await new Promise((r) => setTimeout(r, 100));
  expect(readdirSync(backups).filter((f) => f.endsWith('.dump'))).toHaveLength(1);
  child.kill('SIGINT');
  expect(await exited).toBe(1);
  expect(stderr).toBe('cutover: backup interrupted (SIGINT)\n');
  expect(readdirSync(backups)).toEqual([]);
  while ((await pgDumps()) > 0) await new Promise((r) => setTimeout(r, 100));
});
