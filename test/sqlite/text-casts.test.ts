// A value cast to text through the SQLite source (::text, CAST(… AS text),
// ||, concat()) is the text PostgreSQL makes of it: booleans 'true'/'false'
// (concat: 't'/'f'), timestamptz with its zone, numeric at its column's
// scale, double precision as float8 prints. Each query runs on a real
// PostgreSQL holding the same rows and the answers are compared as sent.
// Before: SQLite's CAST gave '1'/'0' for booleans, timestamps without '+00'
// and numerics without their scale.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { comparedPair, resultsOrError, type ComparedPair } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE v (id INTEGER PRIMARY KEY, flag BOOLEAN, at TIMESTAMPTZ, ts TIMESTAMP, amount NUMERIC(10,2), rate DOUBLE PRECISION, day DATE, note TEXT)`;
const PG_SCHEMA = `CREATE TABLE v (id bigint PRIMARY KEY, flag boolean, at timestamptz, ts timestamp, amount numeric(10,2), rate double precision, day date, note text)`;
const ROWS = `INSERT INTO v VALUES
  (1, true, '2024-01-05 10:00:00+00', '2024-01-05 10:00:00.5', 100.5, 1.0, '2024-02-01', 'a'),
  (2, false, '2024-01-06 09:30:00.25+00', '2024-01-06 09:30:00', 3, 0.1, '2024-02-03', 'b'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`;

let pair: ComparedPair;
let proxy: pg.Client;
let ref: pg.Client;

async function outcome(c: pg.Client, text: string, params?: unknown[]): Promise<unknown> {
  const r = await resultsOrError(c, text, params);
  return Array.isArray(r) ? [r[0]!.command, r[0]!.fields.map((f) => f.dataTypeID), r[0]!.rows] : r;
}

beforeAll(async () => {
  pair = await comparedPair('sqlite_text_casts', SCHEMA, [PG_SCHEMA, ROWS]);
  ({ proxy, ref } = pair);
  await ref.query(`SET TimeZone = 'UTC'`);
  await proxy.query(ROWS);
});
afterAll(() => pair?.close());

const CASES: [string, unknown[]?][] = [
  ['SELECT flag::text, CAST(flag AS text), flag::varchar, at::text, ts::text, amount::text, rate::text, day::text, note::text FROM v ORDER BY id'],
  [`SELECT flag || '', 'at ' || at, amount || ' EUR', rate || '', note || '!', id || '' FROM v ORDER BY id`],
  [`SELECT concat(flag, '|', at, '|', amount), concat_ws(',', flag, ts) FROM v ORDER BY id`],
  ['SELECT a.flag::text, b.at::text FROM v a JOIN v b ON b.id = a.id ORDER BY a.id'],
  ['SELECT (id > 1)::text, true::text, false || $1 FROM v ORDER BY id', ['']],
  [`SELECT id FROM v WHERE flag::text = 'true'`],
  [`SELECT id FROM v WHERE at::text LIKE '%+00' ORDER BY id`],
  ['SELECT flag::text FROM v WHERE id = $1', [2]],
  [`SELECT flag::text, count(*) FROM v GROUP BY flag::text ORDER BY 1`],
];

describe('SQLite source: values cast to text', () => {
  it('read as PostgreSQL writes them', async () => {
    for (const [text, params] of CASES) expect(await outcome(proxy, text, params), text).toEqual(await outcome(ref, text, params));
  });
});
