// Reads of a table capture does not cover stay on the SQLite file, as they do
// on a PostgreSQL source (mirror/uncaptured-reads). With capture on a only,
// reads of b were routed to the new database, where b is whatever a copy left
// and the mirror never writes.
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from '../harness/databases.ts';
import { startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

let m: SqliteMirror;
let c: pg.Client;

beforeAll(async () => {
  m = await startSqliteMirror('sqlite_uncaptured_reads', `CREATE TABLE a (id INTEGER PRIMARY KEY); CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO b VALUES (1, 'legacy')`, { reads: 100, captureOnly: ['a'] });
  // b on the new database as an old copy left it; a with a row only there, to tell where a read went
  await sql(m.targetUrl, `INSERT INTO b VALUES (1, 'stale copy'); INSERT INTO a VALUES (1)`);
  c = new pg.Client({ connectionString: m.url() });
  await c.connect();
});
afterAll(async () => {
  await c?.end();
  await m?.close();
});

it('at 100 % reads, a captured table is read from the new database, an uncaptured one from the file', async () => {
  expect((await c.query('SELECT count(*)::int AS n FROM a')).rows[0].n).toBe(1);
  for (let i = 0; i < 5; i++) expect((await c.query('SELECT v FROM b WHERE id = 1')).rows[0].v).toBe('legacy');
});
