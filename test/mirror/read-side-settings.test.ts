// A routed read is rendered as the source renders it, whatever the new
// database's own defaults are. Before, a target whose database had TimeZone
// 'Asia/Tokyo' and DateStyle 'SQL, DMY' answered `02/01/2020 12:04:05 JST`
// where the source said `2020-01-02 03:04:05+00`, and so on for intervals,
// bytea, floats and the search_path: the same session read two formats by turns.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;
let targetPort: string;

const SCHEMA = `CREATE SCHEMA app; CREATE TABLE app.items (id int PRIMARY KEY, label text); CREATE TABLE public.items (id int PRIMARY KEY, label text)`;

beforeAll(async () => {
  pair = await mirroredPair('mirror_read_settings', SCHEMA);
  await sql(pair.legacyUrl, `INSERT INTO app.items VALUES (1, 'app'); INSERT INTO public.items VALUES (1, 'public')`);
  await sql(pair.targetUrl, `INSERT INTO app.items VALUES (1, 'app'); INSERT INTO public.items VALUES (1, 'public')`);
  const db = (await sql(pair.targetUrl, 'SELECT current_database() AS d')).rows[0].d as string;
  // the new database's own defaults, unlike the source's
  for (const set of [`timezone = 'Asia/Tokyo'`, `datestyle = 'SQL, DMY'`, `intervalstyle = 'sql_standard'`, `bytea_output = 'escape'`, `extra_float_digits = 0`, `search_path = app, public`]) {
    await sql(pair.targetUrl, `ALTER DATABASE "${db}" SET ${set}`);
  }
  // a text search configuration the new database lacks (set as the source's default in the second test)
  await sql(pair.legacyUrl, `CREATE TEXT SEARCH CONFIGURATION public.only_here (COPY = english)`);
  targetPort = (await sql(pair.targetUrl, `SELECT current_setting('port') AS p`)).rows[0].p as string;
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

const RAW = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
const READ = `SELECT '2020-01-02 03:04:05+00'::timestamptz AS ts, '2020-01-02'::date AS d, interval '1 day 2 hours' AS i, '\\x01ff'::bytea AS b, 0.1::float8 AS f, (SELECT label FROM items WHERE id = 1) AS item`;

async function answers(url: string, steps: string[]): Promise<unknown[]> {
  const c = new pg.Client({ connectionString: url, types: RAW });
  await c.connect();
  try {
    const out: unknown[] = [];
    for (const text of steps) out.push((await c.query(text)).rows);
    return out;
  } finally {
    await c.end();
  }
}

describe("routed reads in the source's formats", () => {
  it('the new database answers, in the text the source gives, also after SET, RESET and DISCARD ALL', async () => {
    const steps = [READ, `SET TimeZone = 'America/New_York'`, READ, 'RESET TimeZone', READ, 'SET search_path = app', READ, 'DISCARD ALL', READ];
    const direct = await answers(pair.legacyUrl, steps);
    const routed = await answers(tp.url(pair.name), steps);
    expect(routed).toEqual(direct);
    expect((direct[0] as { ts: string }[])[0]!.ts).toBe('2020-01-02 03:04:05+00');
    // and it was the new database that answered
    const [port] = await answers(tp.url(pair.name), [`SELECT current_setting('port') AS p`]);
    expect(port).toEqual([{ p: targetPort }]);
  });

  it("a setting the new database cannot take leaves it its own for that one: reads still go there, the target is not blamed", async () => {
    const db = (await sql(pair.legacyUrl, 'SELECT current_database() AS d')).rows[0].d as string;
    await sql(pair.legacyUrl, `ALTER DATABASE "${db}" SET default_text_search_config = 'public.only_here'`);
    try {
      const [port, ts] = await answers(tp.url(pair.name), [`SELECT current_setting('port') AS p`, READ]);
      expect(port).toEqual([{ p: targetPort }]);
      // the others are still the source's
      expect((ts as { i: string }[])[0]!.i).toBe('1 day 02:00:00');
      expect(tp.live.get().tripped).toBeFalsy();
    } finally {
      await sql(pair.legacyUrl, `ALTER DATABASE "${db}" RESET default_text_search_config`);
    }
  });
});
