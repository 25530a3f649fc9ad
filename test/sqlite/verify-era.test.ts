// `cutover verify` compares dates and timestamps before the common era (BC)
// as the values they are: the file holds PostgreSQL's text, era and all
// ('0044-03-15 BC'; a timestamptz mirrored back as its text with an offset),
// the target printed a date without its era (to_char), so the same value was
// reported different, and 44 BC equal to AD 44. Now equal values compare
// equal and a real difference (the era, the day, the instant) still shows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVerify } from '../../backfill/verify/run-verify.ts';
import { sql } from '../harness/databases.ts';
import { startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE t (id INTEGER PRIMARY KEY, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ)`;
// [id, date, timestamp, timestamptz] as the file holds them, and as PostgreSQL reads the same values
const ROWS: [number, string, string, string, string][] = [
  [1, '0044-03-15 BC', '0044-03-15 10:00:00 BC', '0044-03-15 10:00:00 BC', '0044-03-15 10:00:00+00 BC'],
  [2, '2024-01-05', '2024-01-05 10:00:00.5', '2024-01-05 09:00:00', '2024-01-05 09:00:00+00'],
  [3, '0001-12-31 BC', '0001-12-31 23:59:59.999999 BC', '0001-12-31 23:30:00-01:00 BC', '0001-01-01 00:30:00+00'],
  [4, '0044-03-01 BC', '0044-03-01 00:00:00.500000 BC', '0044-03-01 00:30:00+01:00 BC', '0044-02-28 23:30:00+00 BC'],
  [5, '4713-01-01 BC', '4713-01-01 00:00:00 BC', '4713-01-01T12:00:00+00:00 BC', '4713-01-01 12:00:00+00 BC'],
  [6, '0044-03-15', '0044-03-15 10:00:00', '0044-03-15 10:00:00', '0044-03-15 10:00:00+00'],
];

let m: SqliteMirror;

const report = async () => {
  const r = await runVerify({ source: m.source, target: m.targetUrl, recheckDelayMs: 10 });
  return r.tables.map((t) => ({ table: t.table, equal: t.equal, missing: t.missing, extra: t.extra, different: t.different, differences: t.differences }));
};

beforeAll(async () => {
  const q = (s: string) => `'${s}'`;
  const history = ROWS.map(([id, d, ts, tz]) => `INSERT INTO t VALUES (${id}, ${q(d)}, ${q(ts)}, ${q(tz)});`).join('\n');
  m = await startSqliteMirror('sqlite_verify_era', SCHEMA, { history });
  for (const [id, d, ts, , tz] of ROWS) await sql(m.targetUrl, `INSERT INTO t VALUES (${id}, ${q(d)}, ${q(ts)}, ${q(tz)})`);
});
afterAll(async () => {
  await m?.close();
});

describe('cutover verify: dates and timestamps BC', () => {
  it('compares the same values equal', async () => {
    expect(await report()).toEqual([{ table: 't', equal: true, missing: 0, extra: 0, different: 0, differences: [] }]);
  });

  it('still shows a real difference: the era, the day, the instant', async () => {
    await sql(m.targetUrl, `UPDATE t SET d = '0044-03-15' WHERE id = 1`);
    await sql(m.targetUrl, `UPDATE t SET ts = '0001-12-31 23:59:59.999999' WHERE id = 3`);
    await sql(m.targetUrl, `UPDATE t SET tz = '0044-03-01 00:30:00+00 BC' WHERE id = 4`);
    await sql(m.targetUrl, `UPDATE t SET d = '0044-03-15 BC' WHERE id = 6`);
    const [t] = await report();
    expect(t!.different).toBe(4);
    expect(t!.differences).toEqual([
      { kind: 'different', key: ['1'], columns: ['d'] },
      { kind: 'different', key: ['3'], columns: ['ts'] },
      { kind: 'different', key: ['4'], columns: ['tz'] },
      { kind: 'different', key: ['6'], columns: ['d'] },
    ]);
  });
});
