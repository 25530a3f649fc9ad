// The text a captured row travels in does not depend on the client's session
// or the table's column names. Before: with extra_float_digits = 0 the mirror
// got 0.3 for 0.30000000000000004, with intervalstyle = sql_standard an
// interval with the wrong sign, with datestyle = 'SQL, DMY' a date array
// (carried as its text) a date with day and month swapped; a table with a
// column named t made every drain fail (to_json(t) was ambiguous), so
// out-of-band writes of every table stopped reaching the mirror.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { expectConverged, mirroredPair } from './mirrored-pair.ts';
import { pgClientConfig } from '../../common/pg-config.ts';

const SCHEMA = `
  CREATE TABLE vals (id int PRIMARY KEY, f8 float8, iv interval, b bytea);
  CREATE TABLE tcol (id int PRIMARY KEY, t text, k text, cutover_n text);
  CREATE TABLE dated (id int PRIMARY KEY, d date[], ts timestamp[])`;
const TABLES = ['public.vals', 'public.tcol', 'public.dated'];
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_row_text', SCHEMA);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 0 });
});
afterAll(async () => {
  await tp?.close();
});

const text = async (url: string) => (await sql(url, 'SELECT id, f8::text, iv::text, b::text FROM vals ORDER BY id')).rows;

describe('row text', () => {
  it('is the same whatever the client session set', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      await c.query(`SET extra_float_digits = 0; SET intervalstyle = sql_standard; SET bytea_output = escape`);
      await c.query(`INSERT INTO vals VALUES (1, 0.1::float8 + 0.2::float8, '-1 day -1 hour', '\\x00ff'), (2, 1e-300, '1 year 2 months -3 days 04:05:06.789', '\\x')`);
      await c.query('BEGIN');
      await c.query(`SET LOCAL bytea_output = hex`);
      await c.query(`UPDATE vals SET iv = iv - interval '1 minute' WHERE id = 1`);
      // the trigger fixed its settings for its own run only: the session's are as it set them
      const shown = async () => (await c.query(`SELECT current_setting('extra_float_digits') AS e, current_setting('intervalstyle') AS i, current_setting('bytea_output') AS b`)).rows[0];
      expect(await shown()).toEqual({ e: '0', i: 'sql_standard', b: 'hex' });
      await c.query('COMMIT');
      expect(await shown()).toEqual({ e: '0', i: 'sql_standard', b: 'escape' });
    } finally {
      await c.end();
    }
    // beside the proxy, under the same settings: the drainer re-reads with its own
    await sql(pair.legacyUrl, `SET intervalstyle = sql_standard; INSERT INTO vals VALUES (3, 0.1::float8 * 3, '-2 days -3 hours', '\\x01')`);
    await expectConverged(tp.proxy.drainer!, pair, TABLES);
    const source = await text(pair.legacyUrl);
    expect(source[0]).toMatchObject({ f8: '0.30000000000000004', iv: '-1 days -01:01:00' });
    expect(await text(pair.targetUrl)).toEqual(source);
  });

  it('of date arrays is the same whatever datestyle the client set', async () => {
    // the tool's own sessions (copy, verify, mirror apply) start with the settings as -c options
    const own = new pg.Client(pgClientConfig(pair.targetUrl));
    await own.connect();
    expect((await own.query(`SELECT setting, source FROM pg_settings WHERE name = 'DateStyle'`)).rows[0]).toMatchObject({ setting: expect.stringMatching(/^ISO,/), source: 'client' });
    await own.end();
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      // day first: read month first, these are other dates (not invalid ones)
      await c.query(`SET datestyle = 'SQL, DMY'`);
      await c.query(`INSERT INTO dated VALUES (1, '{01/02/2024,03/04/2024}', '{"01/02/2024 10:11:12.5"}')`);
      await c.query('BEGIN');
      await c.query(`SET LOCAL datestyle = 'German'`);
      await c.query(`INSERT INTO dated VALUES (2, '{05.06.2024}', '{"07.08.2024 01:02:03"}')`);
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    await sql(pair.legacyUrl, `SET datestyle = 'Postgres, DMY'; INSERT INTO dated VALUES (3, '{09/10/2024}', '{"11/12/2024 00:00:01"}')`);
    await expectConverged(tp.proxy.drainer!, pair, TABLES);
    const dates = async (url: string) => (await sql(url, 'SELECT id, d::text, ts::text FROM dated ORDER BY id')).rows;
    const source = await dates(pair.legacyUrl);
    expect(source[0]).toEqual({ id: 1, d: '{2024-02-01,2024-04-03}', ts: '{"2024-02-01 10:11:12.5"}' });
    expect(await dates(pair.targetUrl)).toEqual(source);
  });

  it('of a table with columns named t, k and like the capture\'s aliases, drains; the other tables\' with it', async () => {
    await sql(pair.legacyUrl, `INSERT INTO tcol VALUES (1, 'tee', 'kay', 'n'); INSERT INTO vals VALUES (10, 1, '1 day', NULL)`);
    await sql(pair.legacyUrl, `UPDATE tcol SET t = 'tea' WHERE id = 1`);
    // through the proxy: the captured row itself is applied
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    await c.query(`INSERT INTO tcol VALUES (2, 'two', 'k2', 'n2')`);
    await c.end();
    expect((await sql(pair.targetUrl, 'SELECT t, k, cutover_n FROM tcol WHERE id = 2')).rows).toEqual([{ t: 'two', k: 'k2', cutover_n: 'n2' }]);
    await expectConverged(tp.proxy.drainer!, pair, TABLES);
    expect((await sql(pair.targetUrl, 'SELECT t, k, cutover_n FROM tcol ORDER BY id')).rows).toEqual([{ t: 'tea', k: 'kay', cutover_n: 'n' }, { t: 'two', k: 'k2', cutover_n: 'n2' }]);
    expect(tp.proxy.drainer!.backlog).toBe(0);
  });
});
