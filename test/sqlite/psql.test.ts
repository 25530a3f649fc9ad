// psql against the proxy serving an SQLite file: scripts, transactions, errors with their SQLSTATE.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { PASSWORD, USER, startSqliteProxy, type SqliteProxy } from './sqlite-harness.ts';

const run = promisify(execFile);
let sp: SqliteProxy;
let psql: string;

beforeAll(async () => {
  sp = await startSqliteProxy();
  psql = path.join(inject('legacy').binDir, 'psql');
});
afterAll(async () => {
  await sp?.close();
});

const env = () => ({ ...process.env, PGPASSWORD: PASSWORD, PGHOST: '127.0.0.1', PGUSER: USER, PGPORT: String(sp.tp.port), PGDATABASE: 'app' });

describe('psql → proxy → SQLite', () => {
  it('runs a script with transactions and savepoints', async () => {
    const script = `
CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, at timestamptz DEFAULT now());
INSERT INTO notes (body) VALUES ('one'), ('two');
BEGIN;
INSERT INTO notes (body) VALUES ('three');
SAVEPOINT sp;
DELETE FROM notes;
ROLLBACK TO SAVEPOINT sp;
COMMIT;
SELECT string_agg(body, ',' ORDER BY id) FROM notes;
SELECT count(*) FROM notes WHERE body ILIKE 'T%';
SELECT current_database(), current_user, version() LIKE 'PostgreSQL 15%';
`;
    const { stdout } = await run(psql, ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-c', script], { env: env() });
    // one simple Query with every statement; psql prints each result
    expect(stdout.trim().split('\n')).toEqual(['one,two,three', '2', 'app|app|t']);
    // a failing statement in a later -c leaves the committed rows alone
    const err = await run(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', "INSERT INTO notes (body) VALUES ('four'); INSERT INTO notes (body) VALUES (NULL)"], { env: env() }).catch((e) => e);
    expect(String(err.stderr)).toContain('violates not-null constraint');
    const { stdout: n } = await run(psql, ['-X', '-A', '-t', '-c', 'SELECT count(*) FROM notes'], { env: env() });
    expect(n.trim()).toBe('3');
  });

  it('reports errors with their SQLSTATE', async () => {
    const err = await run(psql, ['-X', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-c', 'SELECT * FROM nowhere'], { env: env() }).catch((e) => e);
    expect(err.code).not.toBe(0);
    expect(String(err.stderr)).toContain('42P01');
    const refused = await run(psql, ['-X', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-c', "SELECT * FROM json_each('{}')"], { env: env() }).catch((e) => e);
    expect(String(refused.stderr)).toContain('0A000');
    expect(String(refused.stderr)).toContain('functions in FROM');
  });
});
