// ORDER BY a name means the output column of that name in PostgreSQL, even
// one named implicitly (`id::text` is "id"); on an SQLite source it sorted by
// the input column: `SELECT id::text FROM t ORDER BY id` gave 3, 7, 10 where
// PostgreSQL gives '10', '3', '7'. GROUP BY keeps preferring input columns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparedPair, statementOutcome, type ComparedPair } from './mirror-harness.ts';

let pair: ComparedPair;
const ROWS = `INSERT INTO t VALUES (3, 'b'), (10, 'A'), (7, 'c'), (12, 'a')`;

beforeAll(async () => {
  pair = await comparedPair('sqlite_order_by_name', 'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)', ['CREATE TABLE t (id bigint PRIMARY KEY, name text)', ROWS]);
  await pair.proxy.query(ROWS);
});
afterAll(() => pair?.close());

describe('SQLite source: ORDER BY an output column by its name', () => {
  it('sorts as PostgreSQL does', async () => {
    for (const text of [
      'SELECT id::text FROM t ORDER BY id',
      'SELECT id::text, name FROM t ORDER BY id DESC',
      'SELECT upper(name) FROM t ORDER BY upper, id',
      'SELECT lower(name), count(*) FROM t GROUP BY lower(name) ORDER BY count DESC, lower',
      'SELECT name, id FROM t ORDER BY name, id',
      'SELECT id::text FROM t UNION ALL SELECT name FROM t ORDER BY id',
      // COLLATE "C" (node-postgres's own tests order by it): byte order, SQLite's BINARY
      'SELECT name FROM t ORDER BY name COLLATE "C"',
      `SELECT name FROM t WHERE name < 'a' COLLATE "C" ORDER BY name COLLATE "POSIX" DESC`,
    ]) {
      expect(await statementOutcome(pair.proxy, text), text).toEqual(await statementOutcome(pair.ref, text));
    }
    // other collations (ICU, libc locales) have no SQLite equivalent: refused, not ignored
    expect(await statementOutcome(pair.proxy, 'SELECT name FROM t ORDER BY name COLLATE "en_US"')).toMatchObject({ code: '0A000' });
  });
});
