// A value cast to text through the SQLite source (::text, CAST(… AS text),
// ||, concat()) is the text PostgreSQL makes of it: booleans 'true'/'false'
// (concat: 't'/'f'), timestamptz with its zone, numeric at its column's
// scale, double precision as float8 prints. Each query runs on a real
// PostgreSQL holding the same rows and the answers are compared as sent.
// Before: SQLite's CAST gave '1'/'0' for booleans, timestamps without '+00'
// and numerics without their scale.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { connectClient, referenceDatabase, startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE v (id INTEGER PRIMARY KEY, flag BOOLEAN, at TIMESTAMPTZ, ts TIMESTAMP, amount NUMERIC(10,2), rate DOUBLE PRECISION, day DATE, note TEXT)`;
const PG_SCHEMA = `CREATE TABLE v (id bigint PRIMARY KEY, flag boolean, at timestamptz, ts timestamp, amount numeric(10,2), rate double precision, day date, note text)`;
const ROWS = `INSERT INTO v VALUES
  (1, true, '2024-01-05 10:00:00+00', '2024-01-05 10:00:00.5', 100.5, 1.0, '2024-02-01', 'a'),
  (2, false, '2024-01-06 09:30:00.25+00', '2024-01-06 09:30:00', 3, 0.1, '2024-02-03', 'b'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`;

let m: SqliteMirror;
let proxy: pg.Client;
let ref: pg.Client;

async function outcome(c: pg.Client, text: string, params?: unknown[]): Promise<unknown> {
  try {
    const r = params ? await c.query({ text, values: params, rowMode: 'array' }) : await c.query({ text, rowMode: 'array' });
    return [r.command, r.fields.map((f) => f.dataTypeID), r.rows];
  } catch (e) {
    return { code: (e as { code?: string }).code, message: (e as Error).message };
  }
}

beforeAll(async () => {
  m = await startSqliteMirror('sqlite_text_casts', SCHEMA);
  [ref, proxy] = await Promise.all([connectClient(await referenceDatabase('sqlite_text_casts_ref', PG_SCHEMA, ROWS)), connectClient(m.url())]);
  await ref.query(`SET TimeZone = 'UTC'`);
  await proxy.query(ROWS);
});
afterAll(async () => {
  await proxy?.end();
  await ref?.end();
  await m?.close();
});

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
