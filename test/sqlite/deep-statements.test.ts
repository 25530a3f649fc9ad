// A statement nested deeper than the SQLite source's translator can follow is
// refused as PostgreSQL refuses one deeper than its stack: 54001 "stack depth
// limit exceeded". Before, it was 42601 (a syntax error) or XX000 (an internal
// error) carrying JavaScript's "Maximum call stack size exceeded".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparedPair, statementOutcome, type ComparedPair } from './mirror-harness.ts';

let pair: ComparedPair;

beforeAll(async () => {
  pair = await comparedPair('sqlite_deep_statements', 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', ['CREATE TABLE t (id bigint PRIMARY KEY, v text)']);
});
afterAll(() => pair?.close());

describe('statements nested too deeply', () => {
  it('a sum of 100,000 terms: 54001 on both, and the session goes on', async () => {
    const text = `SELECT ${Array(100_000).fill('1').join(' + ')}`;
    const [viaProxy, direct] = [await statementOutcome(pair.proxy, text), await statementOutcome(pair.ref, text)];
    expect(direct).toMatchObject({ code: '54001', message: 'stack depth limit exceeded' });
    expect(viaProxy).toMatchObject({ code: '54001', message: 'stack depth limit exceeded' });
    const after = 'INSERT INTO t (id, v) VALUES (1, $1) RETURNING v';
    expect(await statementOutcome(pair.proxy, after, ['still here'])).toEqual(await statementOutcome(pair.ref, after, ['still here']));
  });

  it('an INSERT whose value is nested past the translator: 54001, nothing written', async () => {
    const text = `INSERT INTO t (id, v) SELECT 2, ${'lower('.repeat(4000)}'x'${')'.repeat(4000)}`;
    expect(await statementOutcome(pair.proxy, text)).toMatchObject({ code: '54001' });
    expect(await statementOutcome(pair.proxy, 'SELECT count(*) FROM t WHERE id = 2')).toEqual(await statementOutcome(pair.ref, 'SELECT count(*) FROM t WHERE id = 2'));
  });
});
