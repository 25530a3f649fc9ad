// A --state file that cannot be opened (a directory, a file that is no
// database, a place that cannot be written) is named in the one-line error:
// better-sqlite3's own "unable to open database file" or "file is not a
// database" did not say it was the state file, nor which.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { freePort } from '../harness/postgres.ts';

let pair: DbPair;
let dir: string;
let control: string;

beforeAll(async () => {
  pair = await databasePair('state_file_errors');
  await sql(pair.legacyUrl, 'CREATE TABLE t (id int PRIMARY KEY)');
  await sql(pair.targetUrl, 'CREATE TABLE t (id int PRIMARY KEY)');
  dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-statefile-'));
  control = `127.0.0.1:${await freePort()}`;
});

describe('a state file that cannot be opened', () => {
  it('that is no database: status, reads, backfill and backup name it, exit 1', async () => {
    const garbage = path.join(dir, 'garbage.db');
    writeFileSync(garbage, 'not a database, but something an operator pointed --state at by mistake\n'.repeat(20));
    const line = `cutover: --state ${garbage}: cannot open the state file: file is not a database (SQLITE_NOTADB)\n`;
    for (const args of [['status'], ['reads', '5'], ['backfill', '--source', pair.legacyUrl, '--target', pair.targetUrl], ['backup', '--source', pair.legacyUrl, '--backup-dir', dir]]) {
      const r = await cli([...args, '--state', garbage, '--control', control]);
      expect(r.code, args[0]).toBe(1);
      // backfill warns first that capture is not installed (a snapshot copy): the failure is its last line
      expect(r.stderr.split('\n').filter((l) => l.startsWith('cutover: ')), args[0]).toEqual([line.trim()]);
    }
  });

  it('that is a directory: backfill and the proxy name it, exit 1', async () => {
    const folder = path.join(dir, 'state.db');
    mkdirSync(folder);
    const line = `cutover: --state ${folder}: cannot open the state file: unable to open database file (SQLITE_CANTOPEN)\n`;
    const b = await cli(['backfill', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--state', folder]);
    expect(b.code).toBe(1);
    expect(b.stderr.split('\n').filter((l) => l.startsWith('cutover: '))).toEqual([line.trim()]);
    const p = await cli(['proxy', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--state', folder, '--listen', `127.0.0.1:${await freePort()}`, '--control', control], {}, { timeoutMs: 60_000 });
    expect(p.code).toBe(1);
    expect(p.stderr).toContain(line);
  });
});
