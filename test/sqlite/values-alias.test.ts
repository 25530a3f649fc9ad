// `(VALUES …) AS x(a, b)` on an SQLite source answers as on PostgreSQL: the
// usual way to UPDATE … FROM or join a list of rows. SQLite has no column list
// on an alias; the engine gave a syntax error ("near '('"). Column lists it
// cannot express, and data-modifying statements in WITH, are refused 0A000
// naming the construct instead of a syntax error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { comparedPair, statementOutcome, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE kv (id INTEGER PRIMARY KEY, v TEXT, n INTEGER)`;
const PG_SCHEMA = `CREATE TABLE kv (id bigint PRIMARY KEY, v text, n bigint)`;
const ROWS = `INSERT INTO kv VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)`;

let pair: ComparedPair;

const outcome = statementOutcome;

beforeAll(async () => {
  pair = await comparedPair('sqlite_values_alias', SCHEMA, [PG_SCHEMA, ROWS]);
  await pair.proxy.query(ROWS);
});
afterAll(() => pair?.close());

const SAME: [string, unknown[]?][] = [
  [`UPDATE kv SET v = x.v, n = kv.n + x.d FROM (VALUES (1, 'A', 1), (3, 'C', 3)) AS x(id, v, d) WHERE kv.id = x.id`],
  ['SELECT id, v, n FROM kv ORDER BY id'],
  [`UPDATE kv SET v = x.v FROM (VALUES ($1::int, $2::text)) AS x(id, v) WHERE kv.id = x.id RETURNING kv.id, kv.v`, [2, 'B']],
  [`SELECT * FROM (VALUES (1, 'x'), (2, NULL)) AS t(a, b) ORDER BY a DESC`],
  [`SELECT t.* FROM (VALUES (1, 'x')) AS t(a)`],
  [`SELECT k.id, x.w FROM kv k JOIN (VALUES (1, 'one'), (3, 'three')) AS x(id, w) ON x.id = k.id ORDER BY k.id`],
  [`SELECT * FROM (VALUES (1, 'x')) AS t(a, b, c)`],
];

describe('SQLite source: VALUES lists with column names', () => {
  it('answer as PostgreSQL does, and write the same rows', async () => {
    for (const [text, params] of SAME) expect(await outcome(pair.proxy, text, params), text).toEqual(await outcome(pair.ref, text, params));
  });

  it('refuse what SQLite cannot express with 0A000, naming it', async () => {
    for (const text of [
      'SELECT * FROM kv AS k(a, b)',
      'SELECT * FROM (SELECT 1, 2) AS s(a, b)',
      `WITH x AS (INSERT INTO kv VALUES (9, 'z', 0) RETURNING *) SELECT * FROM x`,
    ]) {
      expect(await outcome(pair.proxy, text), text).toMatchObject({ code: '0A000', message: expect.stringMatching(/column alias lists|data-modifying statements in WITH/) });
    }
    expect(await outcome(pair.proxy, 'SELECT count(*)::int FROM kv WHERE id = 9')).toEqual(['SELECT', 1, ['count'], [['0']]]);
  });
});
