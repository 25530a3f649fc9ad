// Change rows waiting for the drainer (writes made beside the proxy, keys
// recorded dirty while the new database was away) survive a crash of the
// source. The change table was UNLOGGED, which crash recovery empties (and a
// standby promoted after a failover never had): those writes were lost for
// the mirror, silently.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from '../harness/databases.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { pgCaptureDialect } from '../../proxy/capture/pg-capture.ts';
import { installCaptureAt } from './mirrored-pair.ts';

let source: Cluster;
let url: string;

beforeAll(async () => {
  source = await startCluster({ name: 'capture-durable', durable: true });
  url = await source.createDatabase('capture_durable');
  await sql(url, 'CREATE TABLE kv (id int PRIMARY KEY, v text)');
  await installCaptureAt(url);
}, 60_000);
afterAll(async () => {
  await source?.destroy();
});

it('change rows waiting for the drainer survive a crash of the source (immediate shutdown)', async () => {
  // no proxy and no drainer: a write beside the proxy, and a key recorded dirty
  await sql(url, `INSERT INTO kv VALUES (1, 'beside the proxy')`);
  await sql(url, pgCaptureDialect.dirtySql([{ tbl: '"public"."kv"', pk: '{"id": 2}' }]));
  const before = (await sql(url, 'SELECT op, pk::text FROM cutover.changes ORDER BY seq')).rows;
  expect(before).toEqual([{ op: 'U', pk: '{"id": 1}' }, { op: 'R', pk: '{"id": 2}' }]);
  await source.stop('immediate');
  await source.start();
  expect((await sql(url, 'SELECT op, pk::text FROM cutover.changes ORDER BY seq')).rows).toEqual(before);
}, 60_000);
