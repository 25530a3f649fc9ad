// A table made while mirroring, with DDL let through (allowDdl), has no
// capture: the mirror never writes it. An operator who makes it on the new
// database too (as the README asks) got reads of it routed there, answered
// from an empty table, until the proxy listed uncaptured tables again a minute
// later. Now reads naming any relation stay on the source from the DDL until
// the catalogues have been read after its transaction ended.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair } from './mirrored-pair.ts';
import type { Socket } from 'node:net';
import { bind, execute, msg, parse, query, sync } from '../proxy/raw-wire.ts';

let pair: DbPair;
let tp: TestProxy;
let writer: pg.Client;
let reader: pg.Client;

beforeAll(async () => {
  pair = await mirroredPair('mirror_ddl_new_table', `CREATE TABLE items (id int PRIMARY KEY, a text)`);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 100, allowDdl: true });
  writer = new pg.Client({ connectionString: tp.url(pair.name) });
  reader = new pg.Client({ connectionString: tp.url(pair.name) });
  await writer.connect();
  await reader.connect();
});
afterAll(async () => {
  await writer?.end();
  await reader?.end();
  await tp?.close();
});

const count = async (table: string) => Number((await reader.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

/** Reads of `items` are routed to the new database (a row only it has shows through the proxy). */
async function itemsReadOnTarget(): Promise<boolean> {
  await sql(pair.targetUrl, `INSERT INTO items VALUES (99, 'target only') ON CONFLICT DO NOTHING`);
  try {
    return (await reader.query('SELECT a FROM items WHERE id = 99')).rows.length === 1;
  } finally {
    await sql(pair.targetUrl, 'DELETE FROM items WHERE id = 99');
  }
}

async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('a table made while mirroring with allowDdl', () => {
  it('reads of it stay on the source, made in autocommit', async () => {
    expect(await itemsReadOnTarget()).toBe(true);
    await writer.query('CREATE TABLE fresh (id int PRIMARY KEY, v text)');
    await sql(pair.targetUrl, 'CREATE TABLE fresh (id int PRIMARY KEY, v text)');
    await writer.query(`INSERT INTO fresh VALUES (1, 'on the source only')`);
    expect(await count('fresh')).toBe(1);
    // once the catalogues are read again, reads of captured tables go to the new database again, of fresh not
    expect(await eventually(itemsReadOnTarget)).toBe(true);
    expect(await count('fresh')).toBe(1);
  });

  it('reads of it stay on the source, made in a transaction', async () => {
    await writer.query('BEGIN');
    await writer.query('CREATE TABLE fresh2 (id int PRIMARY KEY, v text)');
    await writer.query(`INSERT INTO fresh2 VALUES (1, 'a'), (2, 'b')`);
    await sql(pair.targetUrl, 'CREATE TABLE fresh2 (id int PRIMARY KEY, v text)');
    // the catalogues read while the transaction is open cannot show fresh2: reads stay on the source meanwhile
    expect(await itemsReadOnTarget()).toBe(false);
    await writer.query('COMMIT');
    expect(await count('fresh2')).toBe(2);
    expect(await eventually(itemsReadOnTarget)).toBe(true);
    expect(await count('fresh2')).toBe(2);
  });

  it('reads stay on the source when the DDL was parsed and bound ahead of a Flush, and executed after it', async () => {
    expect(await eventually(itemsReadOnTarget)).toBe(true);
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    c.on('error', () => undefined);
    await c.connect();
    const s = (c as unknown as { connection: { stream: Socket } }).connection.stream;
    s.removeAllListeners('data');
    let readies = 0;
    const answered = new Promise<void>((resolve) => s.on('data', (d: Buffer) => {
      // ReadyForQuery is the only message here of 6 bytes starting 'Z' (its body one byte)
      for (let o = 0; o + 5 <= d.length; o += 1 + d.readInt32BE(o + 1)) if (d[o] === 0x5a && ++readies === 4) resolve();
    }));
    s.write(Buffer.concat([
      query('BEGIN'),
      parse('CREATE TABLE fresh3 (id int PRIMARY KEY)'), bind(), msg('H'), execute(), sync(),
      query('SELECT pg_sleep(2)'), query('COMMIT'),
    ]));
    try {
      const sleeping = async () => (await sql(pair.legacyUrl, `SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(2)' AND state = 'active'`)).rows.length === 1;
      expect(await eventually(sleeping)).toBe(true);
      // the transaction that made fresh3 is open: the catalogues cannot show it yet
      expect(await itemsReadOnTarget()).toBe(false);
      await answered;
      expect((await sql(pair.legacyUrl, `SELECT to_regclass('fresh3') IS NOT NULL AS made`)).rows[0].made).toBe(true);
    } finally {
      s.destroy();
    }
  });

  it('reads of a table made on the source alone are no error of the new database', async () => {
    const errors = tp.proxy.guard!.stats.readErrors;
    await writer.query('CREATE TABLE source_only (id int PRIMARY KEY)');
    await writer.query('INSERT INTO source_only VALUES (1)');
    for (let i = 0; i < 10; i++) expect(await count('source_only')).toBe(1);
    expect(tp.proxy.guard!.stats.readErrors).toBe(errors);
    expect(tp.live.get().tripped).toBeNull();
  });
});
