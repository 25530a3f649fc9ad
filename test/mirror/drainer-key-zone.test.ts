// Keys whose text depends on the writing session's settings: a timestamptz
// is written with the session's time-zone offset. The drainer re-reads a
// key's row and matched it to the change row by that text, so a row written
// out of band from a session in Asia/Tokyo was taken for missing (the drainer
// reads in UTC) and deleted on the mirror. Capture now writes keys in UTC,
// and the drainer matches rows to keys by value.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { LiveState } from '../../common/live-state.ts';
import { silentLogger } from '../../common/log.ts';
import { MirrorApplier } from '../../proxy/mirror/apply.ts';
import { Drainer } from '../../proxy/mirror/drainer.ts';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

const SCHEMA = `CREATE TABLE ev (at timestamptz PRIMARY KEY, v text NOT NULL); INSERT INTO ev VALUES ('2020-01-02 03:04:05+00', 'old'), ('2021-06-01 00:00:00+00', 'summer')`;
let pair: DbPair;
let mirror: MirrorApplier;
let drainer: Drainer;

beforeAll(async () => {
  pair = await mirroredPair('mirror_drainer_key_zone', SCHEMA);
  mirror = new MirrorApplier(pair.targetUrl);
  drainer = new Drainer(pair.legacyUrl, mirror, new LiveState({ mirroring: true }), silentLogger, 50);
});

afterAll(async () => {
  await drainer?.stop();
  await mirror?.close();
});

const rows = async (url: string) => (await sql(url, `SELECT at::text, v FROM ev ORDER BY at`)).rows;

it('an out-of-band update from a session in another time zone reaches the mirror, with its key captured in UTC', async () => {
  await sql(pair.legacyUrl, `SET TimeZone = 'Asia/Tokyo'; UPDATE ev SET v = 'new' WHERE at = '2020-01-02 03:04:05+00'`);
  expect((await sql(pair.legacyUrl, `SELECT pk::text FROM cutover.changes`)).rows).toEqual([{ pk: '{"at": "2020-01-02T03:04:05+00:00"}' }]);
  await drainer.flush();
  expect(await rows(pair.targetUrl)).toEqual(await rows(pair.legacyUrl));
  expect((await sql(pair.targetUrl, `SELECT v FROM ev WHERE at = '2020-01-02 03:04:05+00'`)).rows).toEqual([{ v: 'new' }]);
});

it('a key recorded with another offset (by an older capture) is re-synced, not taken for missing', async () => {
  await sql(pair.legacyUrl, `UPDATE ev SET v = 'summer 2' WHERE at = '2021-06-01 00:00:00+00'`);
  await drainer.flush();
  // the same instant spelled in Tokyo's offset, as a trigger of capture format 5 wrote it there
  await sql(pair.legacyUrl, `INSERT INTO cutover.changes (tbl, op, pk) VALUES ('"public"."ev"', 'R', '{"at": "2021-06-01T09:00:00+09:00"}')`);
  await drainer.flush();
  expect(await rows(pair.targetUrl)).toEqual(await rows(pair.legacyUrl));
  expect((await sql(pair.targetUrl, `SELECT count(*)::int AS n FROM ev`)).rows).toEqual([{ n: 2 }]);
});

it('a transaction through the proxy writing one key from two time zones is mirrored as one row', async () => {
  let tp: TestProxy | undefined;
  try {
    tp = await mirroringProxy(pair);
    const proxied = new pg.Client({ connectionString: tp.url(new URL(pair.legacyUrl).pathname.slice(1)) });
    await proxied.connect();
    try {
      await proxied.query(`BEGIN`);
      await proxied.query(`SET LOCAL TimeZone = 'Asia/Tokyo'`);
      await proxied.query(`INSERT INTO ev VALUES ('2022-03-04 05:06:07+00', 'first')`);
      await proxied.query(`SET LOCAL TimeZone = 'America/New_York'`);
      await proxied.query(`UPDATE ev SET v = 'second' WHERE at = '2022-03-04 05:06:07+00'`);
      await proxied.query(`COMMIT`);
    } finally {
      await proxied.end();
    }
    expect((await sql(pair.targetUrl, `SELECT v FROM ev WHERE at = '2022-03-04 05:06:07+00'`)).rows).toEqual([{ v: 'second' }]);
    await drainer.flush();
    expect(await rows(pair.targetUrl)).toEqual(await rows(pair.legacyUrl));
  } finally {
    await tp?.close();
  }
});
