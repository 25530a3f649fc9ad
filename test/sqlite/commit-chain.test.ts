// COMMIT AND CHAIN / ROLLBACK AND CHAIN on an SQLite source, compared
// statement by statement with PostgreSQL: the next transaction opens at once
// (read-only if the last one was), also after a failed one was rolled back,
// and outside a block both are errors. Before, the engine refused them (0A000).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql } from '../harness/databases.ts';
import { comparedPair, resultsOrError, type ComparedPair } from './mirror-harness.ts';

let pair: ComparedPair;

async function outcome(c: pg.Client, text: string): Promise<unknown> {
  const r = await resultsOrError(c, text);
  return Array.isArray(r) ? r.map((x) => [x.command, x.rowCount, x.rows]) : { code: r.code };
}

beforeAll(async () => {
  pair = await comparedPair('sqlite_commit_chain', 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', ['CREATE TABLE t (id bigint PRIMARY KEY, v text)']);
});
afterAll(() => pair?.close());

const STEPS = [
  'COMMIT AND CHAIN',
  'ROLLBACK AND CHAIN',
  'BEGIN',
  "INSERT INTO t VALUES (1, 'kept')",
  'COMMIT AND CHAIN',
  "INSERT INTO t VALUES (2, 'undone')",
  'ROLLBACK AND CHAIN',
  'SELECT id, v FROM t ORDER BY id',
  'SELECT 1/0',
  'COMMIT AND CHAIN',
  "INSERT INTO t VALUES (3, 'in the chained one')",
  'COMMIT',
  'BEGIN READ ONLY',
  'COMMIT AND CHAIN',
  "INSERT INTO t VALUES (4, 'refused: still read-only')",
  'ROLLBACK',
  'SELECT id, v FROM t ORDER BY id',
];

describe('SQLite source: AND CHAIN', () => {
  it('answers as PostgreSQL does', async () => {
    for (const text of STEPS) expect(await outcome(pair.proxy, text), text).toEqual(await outcome(pair.ref, text));
    // and the new database got the committed transactions, before their COMMITs were answered
    const r = await sql(pair.mirror.targetUrl, 'SELECT id::int, v FROM t ORDER BY id');
    expect(r.rows).toEqual([{ id: 1, v: 'kept' }, { id: 3, v: 'in the chained one' }]);
  });
});
