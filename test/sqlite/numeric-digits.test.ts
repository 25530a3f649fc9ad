// A numeric with more significant digits than SQLite's REAL keeps (15) was
// rounded by the file's NUMERIC affinity: the client was told it was stored,
// the new database got another rounding of it, or refused it (99999999999999.999999
// became 1e14, too wide for numeric(20,6)) and held up every later change.
// It is refused now, with nothing written; what SQLite keeps whole still goes in.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { sql } from '../harness/databases.ts';
import { startSqliteMirror, connectClient, type SqliteMirror } from './mirror-harness.ts';

let m: SqliteMirror;
let c: pg.Client;

beforeAll(async () => {
  m = await startSqliteMirror('sqlite_numeric_digits', `CREATE TABLE amounts (id INTEGER PRIMARY KEY, amount NUMERIC(20, 6))`);
  c = await connectClient(m.url());
});
afterAll(async () => {
  await c?.end();
  await m?.close();
});

it('refuses what SQLite would round, keeps the rest exactly on both sides', async () => {
  for (const [id, v] of [[1, '12345678901234.123456'], [2, '99999999999999.999999'], [3, '9007199254740.993']] as const) {
    await expect(c.query('INSERT INTO amounts VALUES ($1, $2::numeric)', [id, v])).rejects.toMatchObject({ code: '22003' });
  }
  // written into the statement, too
  await expect(c.query('INSERT INTO amounts VALUES (4, 12345678901234.123456)')).rejects.toMatchObject({ code: '22003' });
  const kept = [[10, '0.1'], [11, '12345678901234.5'], [12, '-123.456789'], [13, '12345678901234'], [14, '0.30000000000000004'], [15, '3.141592653589793']] as const;
  for (const [id, v] of kept) await c.query('INSERT INTO amounts VALUES ($1, $2::numeric)', [id, v]);
  const onSource = (await c.query('SELECT id, amount::text AS a FROM amounts ORDER BY id')).rows;
  expect(onSource.map((r) => Number(r.id))).toEqual(kept.map(([id]) => id));
  const onTarget = (await sql(m.targetUrl, 'SELECT id, amount::text AS a FROM amounts ORDER BY id')).rows;
  // the same number on both sides, as the client reads it (numeric(20, 6): six places)
  expect(onTarget.map((r) => [Number(r.id), r.a])).toEqual(onSource.map((r) => [Number(r.id), r.a]));
  expect(onTarget.map((r) => r.a)).toEqual(['0.100000', '12345678901234.500000', '-123.456789', '12345678901234.000000', '0.300000', '3.141593']);
  // nothing waits in the drain: the refused values never reached the change table
  expect(m.tp.proxy.drainer!.backlog).toBe(0);
  expect(m.tp.live.get().tripped).toBeNull();
});
