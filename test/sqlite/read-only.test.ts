// Read-only transactions through the SQLite source refuse writes as
// PostgreSQL does (25006): BEGIN READ ONLY, START TRANSACTION READ ONLY, SET
// TRANSACTION READ ONLY, default_transaction_read_only (taken when the
// transaction starts), SELECT … FOR UPDATE included. SET follows the
// transaction. And a few forms SQLite lacks or reads otherwise: IS [NOT]
// UNKNOWN, LIMIT ALL with OFFSET, a parameter compared with an expression of
// known type, substr with a start below 1. Each statement runs on a real
// PostgreSQL too and the answers are compared. Before: every one of these
// writes went through, and IS UNKNOWN and LIMIT ALL OFFSET were errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { comparedPair, resultsOrError, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE ro (id INTEGER PRIMARY KEY, v TEXT)`;
const PG_SCHEMA = `CREATE TABLE ro (id bigint PRIMARY KEY, v text)`;

let pair: ComparedPair;
let proxy: pg.Client;
let ref: pg.Client;

async function outcome(c: pg.Client, text: string, params?: unknown[]): Promise<unknown> {
  const r = await resultsOrError(c, text, params, { endBlock: true });
  return Array.isArray(r) ? r.map((x) => [x.command, x.rows]) : r;
}

beforeAll(async () => {
  pair = await comparedPair('sqlite_read_only', SCHEMA, [PG_SCHEMA]);
  ({ proxy, ref } = pair);
  for (const c of [ref, proxy]) c.on('notice', () => undefined);
});
afterAll(() => pair?.close());

const CASES: [string, unknown[]?][] = [
  [`BEGIN READ ONLY; INSERT INTO ro VALUES (1, 'a'); COMMIT`],
  ['SELECT count(*) FROM ro'],
  [`BEGIN; SET TRANSACTION READ ONLY; SHOW transaction_read_only; UPDATE ro SET v = 'x'; COMMIT`],
  ['START TRANSACTION READ ONLY; SELECT * FROM ro FOR UPDATE; ROLLBACK'],
  [`BEGIN READ WRITE; INSERT INTO ro VALUES (2, 'b'); COMMIT`],
  // the default is read when the transaction starts: this one started read-write
  [`SET default_transaction_read_only = on; INSERT INTO ro VALUES (3, 'c')`],
  ['SHOW transaction_read_only'],
  [`INSERT INTO ro VALUES ($1, $2)`, [4, 'd']],
  [`BEGIN READ WRITE; INSERT INTO ro VALUES (5, 'e'); COMMIT`],
  [`RESET default_transaction_read_only; INSERT INTO ro VALUES (6, 'f')`],
  [`INSERT INTO ro VALUES (7, 'g')`],
  ['SELECT id, v FROM ro ORDER BY id'],
  // SET is transactional: undone by ROLLBACK and by ROLLBACK TO a savepoint before it; SET LOCAL lasts to COMMIT
  [`BEGIN; SET application_name = 'rolled back'; ROLLBACK`],
  ['SHOW application_name'],
  [`BEGIN; SET LOCAL application_name = 'local'; SHOW application_name; COMMIT`],
  ['SHOW application_name'],
  [`BEGIN; SET application_name = 'a'; SAVEPOINT s; SET application_name = 'b'; SET LOCAL statement_timeout = '7s'; ROLLBACK TO s; SHOW application_name; SHOW statement_timeout; COMMIT`],
  ['SHOW application_name'],
  [`SET LOCAL application_name = 'outside'`],
  ['SHOW application_name'],
  // set_config(name, value, is_local) is SET and SET LOCAL
  [`SELECT set_config('myapp.user_id', '42', false), current_setting('myapp.user_id')`],
  [`BEGIN; SELECT set_config('myapp.user_id', '7', true), current_setting('myapp.user_id'); COMMIT`],
  [`BEGIN; SELECT set_config('myapp.user_id', '9', false); ROLLBACK`],
  [`SELECT current_setting('myapp.user_id')`],
  ['SELECT NULL IS UNKNOWN, true IS NOT UNKNOWN, (1 = NULL) IS UNKNOWN'],
  ['SELECT id FROM ro ORDER BY id LIMIT ALL OFFSET 1'],
  [`SELECT id FROM ro WHERE coalesce(v = 'b', false) = $1`, [true]],
  // substr with a start below 1 is cut off, not counted from the end; a negative count is 22011
  [`SELECT substr('hello', -1, 3), substr('hello', -3), substr('hello', 0, 3), substring('héllo' from -1 for 4), substr(v, (id - 3)::int, 2) FROM ro WHERE id = 2`],
  ['SELECT substr($1, $2, $3)', ['hello', -1, 3]],
  [`SELECT substr(v, 1, (id - 5)::int) FROM ro WHERE id = 2`],
];

describe('SQLite source: read-only transactions', () => {
  it('refuse writes as PostgreSQL does, and the forms SQLite lacks work', async () => {
    for (const [text, params] of CASES) expect(await outcome(proxy, text, params), text).toEqual(await outcome(ref, text, params));
  });
});
