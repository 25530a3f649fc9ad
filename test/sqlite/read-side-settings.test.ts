// Reads routed to the new database are rendered as the SQLite source renders
// them (its engine's defaults: TimeZone UTC, DateStyle ISO, with the client's
// start-up parameters), not by the new database's own defaults. Before, a
// target database with TimeZone 'Asia/Tokyo' answered 2020-01-02 12:04:05+09
// to every other read where the source said 2020-01-02 03:04:05+00.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '../harness/databases.ts';
import { startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

let m: SqliteMirror;

beforeAll(async () => {
  m = await startSqliteMirror('sqlite_read_settings', `CREATE TABLE ev (id INTEGER PRIMARY KEY, at TEXT)`, { reads: 100 });
  for (const set of [`timezone = 'Asia/Tokyo'`, `datestyle = 'SQL, DMY'`, `intervalstyle = 'sql_standard'`]) await sql(m.targetUrl, `ALTER DATABASE sqlite_read_settings SET ${set}`);
});
afterAll(() => m?.close());

const RAW = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

async function read(options?: string): Promise<{ ts: string; d: string; i: string; port: string }[]> {
  const c = new pg.Client({ connectionString: m.url(), types: RAW, ...(options ? { options } : {}) });
  await c.connect();
  try {
    const rows: { ts: string; d: string; i: string; port: string }[] = [];
    // reads 100 %: a plain read goes to the new database; current_setting('port') says so
    for (let i = 0; i < 2; i++) rows.push((await c.query(`SELECT '2020-01-02 03:04:05+00'::timestamptz AS ts, '2020-01-02'::date AS d, interval '1 day 2 hours' AS i, current_setting('port') AS port`)).rows[0]);
    return rows;
  } finally {
    await c.end();
  }
}

describe("routed reads in the SQLite source's formats", () => {
  it("the engine's defaults, not the new database's", async () => {
    const port = (await sql(m.targetUrl, `SELECT current_setting('port') AS p`)).rows[0].p as string;
    for (const row of await read()) expect(row).toEqual({ ts: '2020-01-02 03:04:05+00', d: '2020-01-02', i: '1 day 02:00:00', port });
  });

  it("the client's start-up TimeZone", async () => {
    for (const row of await read('-c TimeZone=America/New_York')) expect(row.ts).toBe('2020-01-01 22:04:05-05');
  });
});
