// A grouped query reading a column neither grouped nor aggregated is refused
// with 42803 through the SQLite source, as PostgreSQL refuses it — unless the
// primary key of the column's table is grouped (functional dependency) — and
// every grouped query PostgreSQL accepts still runs. Each query runs on a real
// PostgreSQL too and the answers are compared. Before: SQLite ran the refused
// ones and answered with a value from an arbitrary row of each group.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { comparedPair, resultsOrError, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE dept (id INTEGER PRIMARY KEY, name TEXT);
  CREATE TABLE emp (id INTEGER PRIMARY KEY, dept_id INTEGER, name TEXT, salary INTEGER);
  CREATE TABLE pair (x INTEGER, y INTEGER, label TEXT, PRIMARY KEY (x, y));
  CREATE TABLE nokey (a INTEGER, b TEXT)`;
const PG_SCHEMA = `CREATE TABLE dept (id bigint PRIMARY KEY, name text);
  CREATE TABLE emp (id bigint PRIMARY KEY, dept_id bigint, name text, salary bigint);
  CREATE TABLE pair (x bigint, y bigint, label text, PRIMARY KEY (x, y));
  CREATE TABLE nokey (a bigint, b text)`;
const ROWS = `INSERT INTO dept VALUES (1, 'ops'), (2, 'dev');
  INSERT INTO emp VALUES (1, 1, 'ann', 10), (2, 1, 'bob', 20), (3, 2, 'cy', 30), (4, 2, 'Cy', 5);
  INSERT INTO pair VALUES (1, 1, 'a'), (1, 2, 'b');
  INSERT INTO nokey VALUES (1, 'p'), (1, 'q')`;

let pair: ComparedPair;
let proxy: pg.Client;
let ref: pg.Client;

async function outcome(c: pg.Client, text: string, params?: unknown[]): Promise<unknown> {
  const r = await resultsOrError(c, text, params);
  return Array.isArray(r) ? r.map((x) => [x.command, x.rows]) : r;
}

beforeAll(async () => {
  pair = await comparedPair('sqlite_grouping', SCHEMA, [PG_SCHEMA, ROWS], { mirror: { capture: false, history: ROWS } });
  ({ proxy, ref } = pair);
});
afterAll(() => pair?.close());

const REFUSED: [string, unknown[]?][] = [
  ['SELECT name, count(*) FROM emp GROUP BY dept_id'],
  ['SELECT name, count(*) FROM emp'],
  ['SELECT e.name, count(*) FROM emp e GROUP BY e.dept_id'],
  ['SELECT dept_id FROM emp GROUP BY dept_id ORDER BY name'],
  ['SELECT count(*) FROM emp ORDER BY name'],
  ['SELECT dept_id, count(*) FROM emp GROUP BY dept_id HAVING salary > 1'],
  ['SELECT d.name, count(*) FROM dept d JOIN emp e ON e.dept_id = d.id GROUP BY e.dept_id'],
  ['SELECT label, count(*) FROM pair GROUP BY x'],
  ['SELECT b, count(*) FROM nokey GROUP BY a'],
  [`SELECT name || 'x', sum(salary) FROM emp GROUP BY dept_id`],
  ['SELECT dept_id, rank() OVER (ORDER BY name) FROM emp GROUP BY dept_id'],
  ['SELECT name FROM emp HAVING count(*) > 0'],
  ['SELECT name FROM emp UNION ALL SELECT name FROM emp GROUP BY dept_id'],
  ['SELECT e.name, count(*) FROM emp e JOIN emp f ON f.dept_id = e.dept_id GROUP BY f.id'],
  ['SELECT name, count(*) FROM emp WHERE salary > $1 GROUP BY dept_id', [0]],
];

const ACCEPTED: [string, unknown[]?][] = [
  ['SELECT d.name, count(*) FROM dept d JOIN emp e ON e.dept_id = d.id GROUP BY d.id ORDER BY d.id'],
  ['SELECT e.name, e.salary, count(*) FROM emp e GROUP BY e.id ORDER BY e.id'],
  ['SELECT name, count(*) FROM emp GROUP BY id ORDER BY 1'],
  ['SELECT label, count(*) FROM pair GROUP BY x, y ORDER BY 1'],
  ['SELECT lower(name), count(*) FROM emp GROUP BY lower(name) ORDER BY 1'],
  ['SELECT lower(e.name) AS n, count(*) FROM emp e GROUP BY n ORDER BY n'],
  ['SELECT dept_id AS d, count(*) FROM emp GROUP BY 1 ORDER BY d'],
  ['SELECT dept_id, count(*) FILTER (WHERE salary > 10), max(name) FROM emp GROUP BY dept_id ORDER BY dept_id'],
  ['SELECT dept_id, (SELECT count(*) FROM dept) FROM emp GROUP BY dept_id ORDER BY 1'],
  ['SELECT name, count(*) OVER () FROM emp ORDER BY name'],
  ['SELECT dept_id, sum(count(*)) OVER () FROM emp GROUP BY dept_id ORDER BY 1'],
  ['SELECT dept_id + 1, count(*) FROM emp GROUP BY dept_id + 1 ORDER BY 1'],
  ['SELECT count(*) FROM emp HAVING count(*) > 1'],
  ['SELECT dept_id, count(*) FROM emp GROUP BY dept_id HAVING max(salary) > 1 ORDER BY dept_id'],
  ['SELECT e.dept_id, count(*) FROM emp e GROUP BY dept_id ORDER BY 1'],
  ['SELECT e.name, count(*) FROM emp e JOIN emp f ON f.dept_id = e.dept_id GROUP BY e.id ORDER BY 1, 2'],
  ['SELECT id, count(*) FROM emp JOIN dept USING (id) GROUP BY id ORDER BY 1'],
  ['SELECT name, count(*) FROM emp WHERE salary > $1 GROUP BY name ORDER BY 1', [0]],
  ['SELECT DISTINCT dept_id FROM emp ORDER BY dept_id'],
];

describe('SQLite source: columns of grouped queries', () => {
  it('a column neither grouped nor aggregated is 42803, as on PostgreSQL', async () => {
    for (const [text, params] of REFUSED) {
      const want = await outcome(ref, text, params);
      expect(want, text).toMatchObject({ code: '42803' });
      expect(await outcome(proxy, text, params), text).toEqual(want);
    }
  });

  it('what PostgreSQL accepts runs: grouped primary keys, expressions, positions, aliases, windows', async () => {
    for (const [text, params] of ACCEPTED) {
      const want = await outcome(ref, text, params);
      expect(want, text).not.toHaveProperty('code');
      expect(await outcome(proxy, text, params), text).toEqual(want);
    }
  });
});
