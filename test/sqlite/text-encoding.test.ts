// Text PostgreSQL refuses (a NUL byte, bytes that are no UTF-8) is refused by
// the SQLite source too, with PostgreSQL's SQLSTATE and words. SQLite keeps
// any bytes: such a value was stored and acknowledged, and its change then
// failed on the new database at every try, holding up the drain behind it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { comparedPair, statementOutcome, type ComparedPair } from './mirror-harness.ts';
import { sql } from '../harness/databases.ts';

const SCHEMA = `CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT, j JSON)`;
const PG_SCHEMA = `CREATE TABLE kv (k text PRIMARY KEY, v text, j json)`;

let pair: ComparedPair;

beforeAll(async () => {
  pair = await comparedPair('sqlite_text_encoding', SCHEMA, [PG_SCHEMA]);
});
afterAll(() => pair?.close());

/** The same statement on the SQLite source (through the proxy) and on PostgreSQL: the same outcome. */
async function compare(text: string, params?: unknown[]): Promise<unknown> {
  const [viaProxy, direct] = [await statementOutcome(pair.proxy, text, params), await statementOutcome(pair.ref, text, params)];
  expect(viaProxy).toEqual(direct);
  return direct;
}

describe('text PostgreSQL refuses', () => {
  it('a NUL in a bound text parameter: 22021, nothing stored', async () => {
    expect(await compare('INSERT INTO kv (k, v) VALUES ($1, $2)', ['nul', 'a\u0000b'])).toMatchObject({ code: '22021' });
    expect(await compare('INSERT INTO kv (k, j) VALUES ($1, $2)', ['nul-json', '{"a": "x\u0000"}'])).toMatchObject({ code: '22021' });
    expect(await compare('SELECT count(*) FROM kv WHERE v = $1', ['\u0000'])).toMatchObject({ code: '22021' });
  });

  it('bytes that are no UTF-8 in a binary text parameter: 22021 naming them', async () => {
    for (const bytes of [[0x61, 0xff, 0x62], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      // node-postgres sends a Buffer in binary format: the text's bytes as they are
      const run = async (c: pg.Client) => c.query('INSERT INTO kv (k, v) VALUES ($1, $2::text)', ['bin', Buffer.from(bytes)]).then(() => 'stored', (e: { code?: string; message: string }) => ({ code: e.code, message: e.message }));
      const viaProxy = await run(pair.proxy);
      const direct = await run(pair.ref);
      expect(viaProxy).toEqual(direct);
      expect(direct).toMatchObject({ code: '22021' });
    }
  });

  it('valid text still goes in, and is mirrored', async () => {
    await compare('INSERT INTO kv (k, v, j) VALUES ($1, $2, $3)', ['ok', 'ünïcødé 💾 \u00e9', '{"a": "\u00e9"}']);
    const onTarget = await sql(pair.mirror.targetUrl, `SELECT v FROM kv WHERE k = 'ok'`);
    expect(onTarget.rows).toEqual([{ v: 'ünïcødé 💾 \u00e9' }]);
  });
});
