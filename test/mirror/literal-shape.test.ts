import { beforeAll, describe, expect, it } from 'vitest';
import { literalShape } from '../../proxy/classify/literal-shape.ts';
import { classify, loadParser } from '../../proxy/classify/classify.ts';

beforeAll(async () => {
  await loadParser();
});

describe('literal shape of a SQL text', () => {
  it.each([
    ['UPDATE pgbench_accounts SET abalance = abalance + -4711 WHERE aid = 12;', 'UPDATE pgbench_accounts SET abalance = abalance + -0 WHERE aid = 0;'],
    ["INSERT INTO t (a, b) VALUES ('it''s', E'a\\'b')", "INSERT INTO t (a, b) VALUES ('?', E'?')"],
    ['SELECT 1.5, .5, 1e-3, 1_000, 0x1F FROM t1', 'SELECT 0, 0, 0, 0, 0 FROM t1'],
    ["SELECT \"a'b\", '1' -- it's 2\n/* 3 /* 4 */ '5' */ FROM t", "SELECT \"a'b\", '?' -- it's 2\n/* 3 /* 4 */ '5' */ FROM t"],
    ['SELECT $1::int + 2', 'SELECT $1::int + 0'],
    ["SELECT U&'d\\0061t' , X'1F', B'101'", "SELECT U&'?' , X'?', B'?'"],
  ])('%s', (sql, shape) => {
    expect(literalShape(sql)).toBe(shape);
  });

  it.each([
    ['SELECT a FROM t WHERE id = $1'], // nothing to blank: cached by text
    ['DO $$ BEGIN PERFORM 1; END $$'], // dollar quotes: code, left alone
    ["SELECT 'unterminated"],
    ['SELECT 1e FROM t'],
    ['SELECT 1x FROM t'],
    ['SELECT 1 /* open'],
  ])('%s has no shape', (sql) => {
    expect(literalShape(sql)).toBeNull();
  });

  it('texts of one shape share a verdict; the statement text stays each one\'s own', () => {
    const a = classify('UPDATE shape_t SET v = 1 WHERE id = 2');
    const b = classify('UPDATE shape_t SET v = 3 WHERE id = 4');
    expect(b.kind).toBe('write');
    expect(b.statements[0]!.text).toBe('UPDATE shape_t SET v = 3 WHERE id = 4');
    expect(a.statements[0]!.text).toBe('UPDATE shape_t SET v = 1 WHERE id = 2');
    expect(classify("SELECT * FROM shape_t WHERE id = 5 /* cutover:target */").pinned).toBe('target');
    // a string can never turn into code: quoting decides where it ends, as PostgreSQL's lexer does
    expect(classify("SELECT 'x''; DELETE FROM shape_t; --'").kind).toBe('read');
    expect(classify("SELECT E'x\\'; DELETE FROM shape_t; --'").kind).toBe('read');
    expect(classify("SELECT 'x\\'; DELETE FROM shape_t; --'").kind).toBe('write');
  });
});
