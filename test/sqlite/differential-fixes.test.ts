// Statements where a differential run (random SQL against the SQLite source
// and PostgreSQL 15, compared) found the SQLite source answering otherwise,
// each compared again with PostgreSQL: rows and types, or SQLSTATE and
// message. Several of them changed data silently before: a DELETE with
// `x NOT LIKE y IS UNKNOWN` deleted every row, an ON CONFLICT DO UPDATE
// proposing one key twice updated the row twice, an UPDATE filtering on
// `text::boolean` updated rows PostgreSQL refuses to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { comparedPair, resultsOrError, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, code TEXT UNIQUE, qty INTEGER, due DATE);
  CREATE TABLE c (id INTEGER PRIMARY KEY, t_id INTEGER, note TEXT)`;
const PG_SCHEMA = `CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL, code text UNIQUE, qty bigint, due date);
  CREATE TABLE c (id bigint PRIMARY KEY, t_id bigint, note text)`;
const ROWS = `INSERT INTO t VALUES (1, 'apple', 'A1', 1, '2024-02-28'), (2, 'pear', 'P1', 2, '2024-12-31'), (3, 'yes', NULL, 3, NULL), (4, 'plum', 'P2', NULL, '2023-03-01');
  INSERT INTO c VALUES (1, 1, 'x'), (2, 2, 'y')`;

let pair: ComparedPair;

async function outcome(c: pg.Client, text: string, params?: unknown[]): Promise<unknown> {
  const r = await resultsOrError(c, text, params);
  return Array.isArray(r) ? r.map((x) => [x.command, x.fields.map((f) => [f.name, f.dataTypeID]), x.rows]) : { code: r.code, message: r.message };
}

beforeAll(async () => {
  pair = await comparedPair('sqlite_differential_fixes', SCHEMA, [PG_SCHEMA, ROWS]);
  await pair.proxy.query(ROWS);
});
afterAll(() => pair?.close());

/** Each case runs in a transaction block rolled back after it, on both sides: writes leave nothing for the next. */
async function compare(text: string, params?: unknown[]): Promise<void> {
  const got: unknown[] = [];
  for (const c of [pair.proxy, pair.ref]) {
    await c.query('BEGIN');
    got.push(await outcome(c, text, params));
    got.push(await outcome(c, 'SELECT id, name, code, qty, due FROM t ORDER BY id'));
    await c.query('ROLLBACK');
  }
  expect(got.slice(0, 2), text).toEqual(got.slice(2));
}

describe('SQLite source: answers a differential run found wrong, now as PostgreSQL gives them', () => {
  it('IS [NOT] NULL / TRUE / UNKNOWN test the whole operand: NOT LIKE, comparisons, BETWEEN', async () => {
    await compare("SELECT count(*) FROM t WHERE name NOT LIKE 'zz' IS UNKNOWN");
    await compare("DELETE FROM t WHERE name NOT LIKE 'a%' IS UNKNOWN");
    await compare("SELECT id, (name NOT LIKE 'p%') IS TRUE, (qty = 2) IS NOT TRUE, (qty BETWEEN 1 AND 2) IS NULL FROM t ORDER BY id");
  });

  it('OFFSET without LIMIT, and a NULL LIMIT or OFFSET (constant or bound)', async () => {
    await compare('SELECT id FROM t ORDER BY id OFFSET 2');
    await compare('SELECT id FROM t ORDER BY id LIMIT 2 OFFSET NULL');
    await compare('SELECT id FROM t ORDER BY id LIMIT $1', [null]);
    await compare('SELECT id FROM t ORDER BY id LIMIT $1 OFFSET $2', [2, null]);
    await compare('SELECT id FROM t ORDER BY id LIMIT $1 OFFSET $2', ['2', '1']);
  });

  it('text::boolean reads PostgreSQL\'s boolean input and refuses other text (22P02), also in a write\'s WHERE', async () => {
    await compare("SELECT id, name::boolean FROM t WHERE id = 3");
    await compare('SELECT name::boolean FROM t WHERE id = 1');
    await compare("UPDATE t SET qty = 0 WHERE (substr(name, 1, 3))::boolean");
    await compare('SELECT id, (qty % 2)::int::boolean FROM t ORDER BY id');
  });

  it('ON CONFLICT DO UPDATE proposing one key twice is 21000; distinct keys upsert', async () => {
    await compare("INSERT INTO t (id, name, code) VALUES (61, 'n', 'A1'), (62, 'm', 'A1') ON CONFLICT (code) DO UPDATE SET qty = 9 RETURNING id, qty");
    await compare('INSERT INTO t (id, name, code) VALUES ($1, $2, $3), (62, $2, $3) ON CONFLICT (code) DO UPDATE SET qty = 9 RETURNING id, qty', [61, 'n', 'B7']);
    await compare("INSERT INTO t (id, name, code) VALUES (5, 'n', 'A1'), (6, 'm', 'Z9') ON CONFLICT (code) DO UPDATE SET qty = 9 RETURNING id, qty");
    await compare("INSERT INTO t (id, name) VALUES (1, 'a'), ($1, 'b') ON CONFLICT (id) DO UPDATE SET qty = 7 RETURNING id, qty", ['1']);
  });

  it('in a failed transaction block a missing table is 25P02, as PostgreSQL checks the block first', async () => {
    for (const c of [pair.proxy, pair.ref]) {
      await c.query('BEGIN');
      await c.query('SELECT 1/0').catch(() => undefined);
    }
    expect(await outcome(pair.proxy, 'SELECT * FROM nonexist')).toEqual(await outcome(pair.ref, 'SELECT * FROM nonexist'));
    expect(await outcome(pair.proxy, { toString: () => 'SELECT * FROM t' }.toString(), [])).toMatchObject({ code: '25P02' });
    for (const c of [pair.proxy, pair.ref]) await c.query('ROLLBACK');
  });

  it('date ± integer is a date and date − date a number of days (SQLite read \'2024-01-05\' + 1 as 2025), also written back', async () => {
    await compare("SELECT '2024-01-05'::date + 1 AS a, '2024-03-01'::date - 1 AS b, 30 + '2024-02-01'::date AS c, '2024-01-05'::date - '2023-12-31'::date AS d");
    await compare('SELECT $1::date + 1 AS a', ['2024-12-31']);
    // a date column's arithmetic is typed by its values here (text), not date: the rows must match
    const text = "SELECT id, due + 1 AS a, due - 366 AS b, due - due AS c, due - '2024-01-01'::date AS d, '2024-01-01'::date - due AS e, qty + 1 AS f FROM t ORDER BY id";
    const rows = async (c: pg.Client) => (await c.query({ text, rowMode: 'array' })).rows;
    expect(await rows(pair.proxy)).toEqual(await rows(pair.ref));
    await compare('UPDATE t SET due = due + 30 WHERE due IS NOT NULL RETURNING id, due');
    await compare('SELECT CURRENT_DATE + 7 - CURRENT_DATE AS week');
  });

  it('RETURNING * after UPDATE … FROM is refused (SQLite returns only the target\'s columns, PostgreSQL the FROM list\'s too)', async () => {
    const r = await outcome(pair.proxy, "UPDATE t SET name = 'z' FROM c WHERE c.t_id = t.id RETURNING *");
    expect(r).toMatchObject({ code: '0A000', message: expect.stringContaining('RETURNING * in UPDATE … FROM') });
    await compare("UPDATE t SET name = 'z' FROM c WHERE c.t_id = t.id RETURNING t.id, t.name");
  });
});
