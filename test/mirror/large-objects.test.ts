// Large objects live in pg_largeobject, outside every table: no capture
// trigger sees them. psycopg2's lobject (libpq's lo_* calls, FunctionCall
// messages) and SQL's lo_from_bytea() wrote them through the mirroring proxy
// on the source alone, acknowledged, never reaching the new database (found
// driving psycopg2 through the proxy). While mirroring they are refused now.
import type { Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';
import { bind, exchangeAfterLogin, execute, firstError, int16, int32, msg, parse, query, sync } from '../proxy/raw-wire.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_large_objects', 'CREATE TABLE docs (id int PRIMARY KEY, body oid);');
  tp = await mirroringProxy(pair);
});
afterAll(async () => {
  await tp?.close();
});

const largeObjects = async () => Number((await sql(pair.legacyUrl, 'SELECT count(*) AS n FROM pg_largeobject_metadata')).rows[0].n);

/** libpq's lo_creat(INV_READ | INV_WRITE): a FunctionCall of pg_catalog.lo_creat (OID 957) with one int4 argument. */
const loCreat = () => msg('F', int32(957), int16(1), int16(1), int16(1), int32(4), int32(0x60000), int16(1));

/** The first error's message in the answers to `messages`, sent at once on a logged-in connection (read until `readies` ReadyForQuery). */
async function firstErrorAfterLogin(messages: Buffer[], readies: number): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  c.on('error', () => undefined);
  await c.connect();
  const s = (c as unknown as { connection: { stream: Socket } }).connection.stream;
  s.removeAllListeners('data');
  const bytes = await new Promise<Buffer>((resolve) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      let seen = 0;
      for (let o = 0; o + 5 <= buf.length; o += 1 + buf.readInt32BE(o + 1)) if (buf[o] === 0x5a) seen++;
      if (seen >= readies) resolve(buf);
    });
    s.write(Buffer.concat(messages));
  });
  s.destroy();
  return firstError(bytes)?.M;
}

describe('large-object writes while mirroring', () => {
  it('by SQL, autocommit and in a block: 0A000, nothing written', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      await expect(c.query("SELECT lo_from_bytea(0, 'body')")).rejects.toMatchObject({ code: '0A000', message: expect.stringContaining('large objects are not mirrored') });
      await c.query('BEGIN');
      await expect(c.query('SELECT pg_catalog.lo_creat(-1)')).rejects.toMatchObject({ code: '0A000' });
      await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
      await c.query('ROLLBACK');
      // extended protocol, as drivers send a parameterised statement
      await expect(c.query('SELECT lo_put($1::oid, 0, $2)', [1, Buffer.from('x')])).rejects.toMatchObject({ code: '0A000' });
    } finally {
      await c.end();
    }
    expect(await largeObjects()).toBe(0);
  });

  it('by FunctionCall (psycopg2 lobject, libpq lo_creat): refused, its block failed as for any error', async () => {
    const words = await exchangeAfterLogin(tp.url(pair.name), [query('BEGIN'), loCreat(), query('SELECT 1'), query('ROLLBACK')], 4);
    expect(words).toBe('C:BEGIN Z:T E:0A000:ERROR Z:E E:25P02:ERROR Z:E C:ROLLBACK Z:I');
    expect(await largeObjects()).toBe(0);
  });

  it('told as such where the refusal is raised on the source: ahead of a Sync, and in a request split at its COMMIT', async () => {
    const flushed = await firstErrorAfterLogin([parse("SELECT lo_from_bytea(0, 'x')"), bind(), execute(), msg('H'), sync()], 1);
    expect(flushed).toContain('large objects are not mirrored');
    const split = await firstErrorAfterLogin([query('BEGIN; SELECT lo_creat(-1); COMMIT')], 1);
    expect(split).toContain('large objects are not mirrored');
    expect(await largeObjects()).toBe(0);
  });

  it('refused when its Parse and Bind were flushed ahead of its Execute, and what its segment wrote before it is undone', async () => {
    const loFlushed = [parse("SELECT lo_from_bytea(0, 'x')"), bind(), msg('H'), execute(), sync()];
    expect(await firstErrorAfterLogin(loFlushed, 1)).toContain('large objects are not mirrored');
    const afterWrite = [parse('INSERT INTO docs VALUES (31, NULL)'), bind(), execute(), msg('H'), ...loFlushed];
    expect(await exchangeAfterLogin(tp.url(pair.name), afterWrite, 1)).toBe('1 2 C:INSERT 0 1 1 2 E:0A000:ERROR Z:I');
    for (const url of [pair.legacyUrl, pair.targetUrl]) expect((await sql(url, 'SELECT count(*)::int AS n FROM docs WHERE id = 31')).rows[0].n).toBe(0);
    expect(await largeObjects()).toBe(0);
  });

  it('reading one made beside the proxy still works', async () => {
    const oid = (await sql(pair.legacyUrl, "SELECT lo_from_bytea(0, 'kept') AS oid")).rows[0].oid;
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      expect((await c.query("SELECT convert_from(lo_get($1::oid), 'UTF8') AS body", [oid])).rows).toEqual([{ body: 'kept' }]);
    } finally {
      await c.end();
    }
  });
});
