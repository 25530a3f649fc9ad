// A value written into a statement's text (past SQLite's binding limit) is
// exactly the value binding it gives: same storage class, same value, for
// every kind of value the engine binds, and text in the statement that only
// looks like a parameter is left alone.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { inlineValues } from '../../proxy/sqlite/inline-values.ts';
import type { SqlValue } from '../../proxy/sqlite/types.ts';

const VALUES: SqlValue[] = [null, 0, 1, -1, 2.5, -2.5, -0, 1e21, 5e-324, Number.MAX_VALUE, Infinity, -Infinity, NaN, 0n, 42n, -9223372036854775808n, 9223372036854775807n, '', "it's", "''", '$1', 'x\ny', 'ü€', Buffer.from([0, 39, 255]), Buffer.alloc(0)];

describe('inlineValues', () => {
  it('writes each value as the literal of what binding it stores', () => {
    const db = new Database(':memory:');
    db.defaultSafeIntegers(true);
    const text = 'SELECT typeof($1), $1, quote($1)';
    for (const v of VALUES) {
      const bound = db.prepare(text).raw(true).get({ 1: v });
      const inlined = db.prepare(inlineValues(text, () => v)).raw(true).get();
      expect(inlined, String(v)).toEqual(bound);
    }
  });

  it('replaces parameters only outside strings, quoted names and comments', () => {
    const sql = `SELECT $1 AS "$1", '$2 it''s' || $2, [$3], \`$4\` -- $5\n, /* $6 */ $10 FROM t WHERE a = $3`;
    expect(inlineValues(sql, (n) => `v${n}`)).toBe(`SELECT 'v1' AS "$1", '$2 it''s' || 'v2', [$3], \`$4\` -- $5\n, /* $6 */ 'v10' FROM t WHERE a = 'v3'`);
  });
});
