// SQL cursors against the proxy serving an SQLite file: psql's FETCH_COUNT
// (BEGIN, DECLARE … NO SCROLL CURSOR, FETCH FORWARD n, CLOSE, COMMIT) prints
// what it prints against PostgreSQL, with the writes of the same session
// mirrored; and DECLARE, FETCH, MOVE and CLOSE answer as PostgreSQL's do.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { sql } from '../harness/databases.ts';
import { comparedPair, expectSameOutcomes, type ComparedPair } from './mirror-harness.ts';

const run = promisify(execFile);
const SQLITE_SCHEMA = 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n INTEGER)';
// SQLite's integers are 64-bit: the reference's columns are bigint as the proxy's answers are
const PG_SCHEMA = 'CREATE TABLE t (id bigint PRIMARY KEY, v text, n bigint)';
const ROWS = "INSERT INTO t SELECT g, 'v' || (g % 7), g % 5 FROM generate_series(1, 25) g";
let pair: ComparedPair;
let psql: string;

beforeAll(async () => {
  pair = await comparedPair('sqlite_cursors', SQLITE_SCHEMA, [PG_SCHEMA]);
  psql = path.join(inject('legacy').binDir, 'psql');
});
afterAll(async () => {
  await pair?.close();
});

/** psql's output for `file` (one path for both servers: psql names it in its errors). */
async function psqlOutput(url: string, file: string): Promise<string> {
  const { stdout, stderr } = await run(psql, ['-X', '-d', url, '-f', file], { env: { ...process.env, PGCONNECT_TIMEOUT: '10' } });
  return stdout + stderr;
}

describe('cursors on the SQLite source', () => {
  it("psql's FETCH_COUNT pages a result, in and out of transactions and with AUTOCOMMIT off, as against PostgreSQL", async () => {
    const script = [
      ROWS + ';',
      '\\set FETCH_COUNT 4',
      'SELECT * FROM t ORDER BY id;',
      'SELECT * FROM t WHERE id > 100;',
      'SELECT v, count(*), sum(n) FROM t GROUP BY v ORDER BY v;',
      'BEGIN;',
      'UPDATE t SET n = n + 10 WHERE id <= 3;',
      'SELECT * FROM t WHERE id <= 5 ORDER BY id;',
      'COMMIT;',
      '\\set AUTOCOMMIT off',
      "INSERT INTO t VALUES (26, 'late', 1);",
      'SELECT id, v FROM t WHERE id > 20 ORDER BY id;',
      'COMMIT;',
      '\\set AUTOCOMMIT on',
      'SELECT count(*) FROM t;',
      '',
    ].join('\n');
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-cursor-')), 'script.sql');
    writeFileSync(file, script);
    const expected = await psqlOutput(refUrl(), file);
    const got = await psqlOutput(pair.mirror.url(), file);
    expect(got).toBe(expected);
    expect(got).toContain('(25 rows)');
    expect(got).toContain('(6 rows)');
    // the session's writes reached the new database as well
    const target = await sql(pair.mirror.targetUrl, 'SELECT count(*)::int AS rows, sum(n)::int AS n FROM t');
    const ref = await sql(refUrl(), 'SELECT count(*)::int AS rows, sum(n)::int AS n FROM t');
    expect(target.rows[0]).toEqual(ref.rows[0]);
  });

  it('DECLARE, FETCH, MOVE and CLOSE answer as PostgreSQL, errors with their SQLSTATE', async () => {
    await expectSameOutcomes(pair, [
      ['DECLARE c CURSOR FOR SELECT id FROM t ORDER BY id'],
      ['BEGIN'],
      ['DECLARE c NO SCROLL CURSOR FOR SELECT id, v FROM t WHERE id < $1 ORDER BY id', [8]],
      ['FETCH 2 FROM c'],
      ['MOVE 2 IN c'],
      ['FETCH FORWARD 2 c'],
      ['FETCH NEXT FROM c'],
      ['FETCH ALL FROM c'],
      ['FETCH c'],
      ['CLOSE c'],
      ['FETCH c'],
      ['ROLLBACK'],
      ['BEGIN'],
      ['DECLARE a CURSOR FOR SELECT count(*) FROM t'],
      ['DECLARE b CURSOR FOR SELECT v FROM t WHERE id = 3'],
      ['DECLARE a CURSOR FOR SELECT 1'],
      ['ROLLBACK'],
      ['BEGIN'],
      ['DECLARE a CURSOR FOR SELECT count(*) FROM t'],
      ['DECLARE b CURSOR FOR SELECT v FROM t WHERE id = 3'],
      ['CLOSE ALL'],
      ['FETCH a'],
      ['ROLLBACK'],
      ['BEGIN'],
      ['DECLARE kept CURSOR FOR SELECT id FROM t ORDER BY id'],
      ['COMMIT'],
      // a cursor ends with its transaction
      ['FETCH kept'],
      ['CLOSE kept'],
      // ROLLBACK TO closes the cursors declared since the savepoint (psql's ON_ERROR_ROLLBACK declares its own again)
      ['BEGIN'],
      ['DECLARE before CURSOR FOR SELECT id FROM t ORDER BY id'],
      ['SAVEPOINT s'],
      ['DECLARE after CURSOR FOR SELECT id FROM t ORDER BY id'],
      ['FETCH 2 FROM before'],
      ['ROLLBACK TO SAVEPOINT s'],
      ['FETCH after'],
      ['ROLLBACK TO SAVEPOINT s'],
      ['FETCH before'],
      ['DECLARE after CURSOR FOR SELECT id FROM t ORDER BY id'],
      ['FETCH after'],
      ['COMMIT'],
    ]);
  });
});

/** The PostgreSQL reference comparedPair made (`<name>_ref` on the new cluster). */
function refUrl(): string {
  const u = new URL(inject('target').url);
  u.pathname = '/sqlite_cursors_ref';
  return u.toString();
}
