// A session pinned through the `options` start-up parameter (PGOPTIONS, the
// `options` of node-postgres and JDBC): `-c cutover.route=source` was passed
// on to the server as a setting and the session's reads were still routed.
// Most clients cannot send a start-up parameter of their own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { takeRouteOption } from '../../proxy/startup-options.ts';

describe('takeRouteOption', () => {
  it('takes -c cutover.route=…, -ccutover.route=… and --cutover.route=…, and leaves the rest as it was', () => {
    expect(takeRouteOption('-c cutover.route=source')).toEqual({ route: 'source', rest: '' });
    expect(takeRouteOption('-ccutover.route=target -c statement_timeout=5s')).toEqual({ route: 'target', rest: '-c statement_timeout=5s' });
    expect(takeRouteOption('--cutover.route=auto --search_path=a\\ b')).toEqual({ route: 'auto', rest: '--search_path=a\\ b' });
    expect(takeRouteOption('-c search_path=x')).toEqual({ rest: '-c search_path=x' });
    expect(takeRouteOption('  -c   cutover.route=source   ')).toEqual({ route: 'source', rest: '' });
  });
});

let pair: DbPair;
let tp: TestProxy;
let ports: { source: string; target: string };

beforeAll(async () => {
  pair = await mirroredPair('mirror_route_options', 'CREATE TABLE t (id int PRIMARY KEY)');
  tp = await mirroringProxy(pair, { reads: 100 });
  const port = async (url: string) => (await sql(url, `SELECT current_setting('port') AS p`)).rows[0].p as string;
  ports = { source: await port(pair.legacyUrl), target: await port(pair.targetUrl) };
});
afterAll(async () => {
  await tp?.close();
});

async function answeredBy(options: string | undefined): Promise<{ side: string[]; timeout: string }> {
  const c = new pg.Client({ connectionString: tp.url(pair.name), ...(options ? { options } : {}) });
  await c.connect();
  try {
    const side: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = (await c.query(`SELECT current_setting('port') AS p FROM (SELECT 1) x`)).rows[0].p as string;
      side.push(p === ports.source ? 'source' : p === ports.target ? 'target' : p);
    }
    return { side, timeout: (await c.query('SHOW statement_timeout')).rows[0].statement_timeout as string };
  } finally {
    await c.end();
  }
}

describe('cutover.route in options', () => {
  it('pins the session, and the other settings there still reach the server', async () => {
    expect((await answeredBy(undefined)).side).toEqual(Array(5).fill('target'));
    expect(await answeredBy('-c cutover.route=source -c statement_timeout=7s')).toEqual({ side: Array(5).fill('source'), timeout: '7s' });
    expect((await answeredBy('--cutover.route=source')).side).toEqual(Array(5).fill('source'));
  });

  it('refuses a value it does not know, as the start-up parameter', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name), options: '-c cutover.route=sideways' });
    await expect(c.connect()).rejects.toMatchObject({ code: '22023' });
  });
});
