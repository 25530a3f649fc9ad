// A statement with more values than SQLite binds at once (32766) on an
// SQLite source answers as PostgreSQL does (which takes up to 65535
// parameters): a bulk INSERT of many rows by postgres.js's sql(rows) or an
// ORM, a long IN list, a multi-row INSERT of string constants in one simple
// query. Before, each failed with SQLite's "too many SQL variables" (42000).
// The values reach the file and the new database exactly as bound: quotes,
// text that looks like a parameter, bytes, NULL, negative and fractional
// numbers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { comparedPair, connectClient, statementOutcome, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL, data BLOB)`;
const PG_SCHEMA = `CREATE TABLE item (id bigint PRIMARY KEY, name text NOT NULL, price double precision, data bytea)`;

let pair: ComparedPair;

beforeAll(async () => {
  pair = await comparedPair('sqlite_many_params', SCHEMA, [PG_SCHEMA]);
});
afterAll(() => pair?.close());

/** `rows` rows of `cols` parameters each: ($1, $2, …), ($n+1, …) */
const placeholders = (rows: number, cols: number) =>
  Array.from({ length: rows }, (_, r) => `(${Array.from({ length: cols }, (_, c) => `$${r * cols + c + 1}`).join(', ')})`).join(', ');

const NAMES = ["it's", '$1', 'a $2 b', '"quoted"', '-- not a comment', '/* nor this */', '?', ':1', '@1', 'x'.repeat(300), 'üñï €'];

function itemValues(from: number, rows: number): unknown[] {
  const v: unknown[] = [];
  for (let i = 0; i < rows; i++) {
    const id = from + i;
    v.push(id, NAMES[id % NAMES.length]! + id, id % 7 === 0 ? null : id % 5 === 0 ? -id / 4 : id * 1.5, id % 3 === 0 ? Buffer.from([0, 39, id % 256, 255]) : null);
  }
  return v;
}

const everything = 'SELECT id, name, price, data FROM item ORDER BY id';

describe('SQLite source: statements with more than 32766 values', () => {
  it('a multi-row INSERT with 40 000 parameters, a long IN list and a DELETE by it', async () => {
    const rows = 10_000;
    const insert = `INSERT INTO item (id, name, price, data) VALUES ${placeholders(rows, 4)}`;
    const values = itemValues(1, rows);
    expect(values.length).toBe(40_000);
    const got = await statementOutcome(pair.proxy, insert, values);
    expect(got).toEqual(await statementOutcome(pair.ref, insert, values));
    expect(got).toEqual(['INSERT', rows, [], []]);
    expect(await statementOutcome(pair.proxy, everything)).toEqual(await statementOutcome(pair.ref, everything));

    const ids = Array.from({ length: 35_000 }, (_, i) => i * 3);
    const inList = `SELECT count(*)::int AS n, sum(price) AS total FROM item WHERE id IN (${ids.map((_, i) => `$${i + 1}`).join(', ')})`;
    expect(await statementOutcome(pair.proxy, inList, ids)).toEqual(await statementOutcome(pair.ref, inList, ids));

    const del = `DELETE FROM item WHERE id IN (${ids.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`;
    // RETURNING comes in each server's own row order
    const sorted = (o: unknown) => {
      const [tag, n, names, rows] = o as [string, number, string[], string[][]];
      return [tag, n, names, rows.map(([id]) => Number(id)).sort((a, b) => a - b)];
    };
    expect(sorted(await statementOutcome(pair.proxy, del, ids))).toEqual(sorted(await statementOutcome(pair.ref, del, ids)));
    expect(await statementOutcome(pair.proxy, everything)).toEqual(await statementOutcome(pair.ref, everything));
  });

  it('a simple-protocol INSERT of 34 000 string constants', async () => {
    const rows = 17_000;
    const text = `INSERT INTO item (id, name, price) VALUES ${Array.from({ length: rows }, (_, i) => `(${100_000 + i}, '${(NAMES[i % NAMES.length]! + i).replace(/'/g, "''")}', '${i}.25')`).join(', ')}`;
    const got = await statementOutcome(pair.proxy, text);
    expect(got).toEqual(await statementOutcome(pair.ref, text));
    expect(got).toEqual(['INSERT', rows, [], []]);
    const some = 'SELECT id, name, price FROM item WHERE id >= 100000 ORDER BY id';
    expect(await statementOutcome(pair.proxy, some)).toEqual(await statementOutcome(pair.ref, some));
  });

  it('prepared once, run with new values: the named statement answers each time', async () => {
    const proxy = new pg.Client({ connectionString: pair.mirror.url() });
    await proxy.connect();
    try {
      const rows = 9_000;
      const text = `INSERT INTO item (id, name, price, data) VALUES ${placeholders(rows, 4)} RETURNING id`;
      for (const from of [200_000, 300_000]) {
        const r = await proxy.query({ name: 'bulk', text, values: itemValues(from, rows) });
        expect(r.rowCount).toBe(rows);
        expect(r.rows[rows - 1]).toEqual({ id: String(from + rows - 1) });
      }
      // a failure is the statement's alone: nothing of it written, the session goes on
      const dup = itemValues(300_000, rows);
      await expect(proxy.query({ name: 'bulk', text, values: dup })).rejects.toMatchObject({ code: '23505' });
      expect((await proxy.query('SELECT count(*)::int AS n FROM item WHERE id >= 200000')).rows[0]).toEqual({ n: 2 * rows });
    } finally {
      await proxy.end();
    }
  });

  it('the new database holds the same rows', { timeout: 60_000 }, async () => {
    // the mirror's applies are committed with the source's commits
    const target = await connectClient(pair.mirror.targetUrl);
    try {
      // 10 000 less the 3 333 multiples of 3 deleted, 17 000, 2 × 9 000
      const rows = 6_667 + 17_000 + 18_000;
      // a statement of more than 10 000 rows is the drainer's to copy, after its commit (README, bulk transactions)
      for (let i = 0; i < 300; i++) {
        const n = (await target.query('SELECT count(*)::int AS n FROM item')).rows[0].n;
        if (Number(n) === rows) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const [onTarget, onSource] = [await statementOutcome(target, everything), await statementOutcome(pair.proxy, everything)];
      expect((onTarget as unknown[])[1]).toBe(rows);
      expect(onTarget).toEqual(onSource);
    } finally {
      await target.end();
    }
  });
});
