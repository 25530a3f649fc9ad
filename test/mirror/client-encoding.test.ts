// A client whose client_encoding is not UTF-8 (psycopg2's set_client_encoding('LATIN1'), a legacy
// application's WIN1252) sends text bytes UTF-8 cannot decode. A request split at its COMMIT is sent
// to the source in pieces rebuilt from its text: rebuilt from the replacement characters the UTF-8
// decoding made, 'café' reached the source as 'cafï¿½' (found driving psycopg2 through the proxy). And
// the drain, run on the client's connection, gets its rows in the client's encoding: read as UTF-8,
// every non-ASCII character of such a client's writes reached the new database as U+FFFD.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, proxyWithoutDrainer } from './mirrored-pair.ts';
import { exchangeAfterLogin, msg, query } from '../proxy/raw-wire.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_client_encoding', 'CREATE TABLE t (id int PRIMARY KEY, s text);');
  tp = await proxyWithoutDrainer(pair);
});
afterAll(async () => {
  await tp?.close();
});

/** A Query whose text is `sql` in LATIN1 bytes. */
const latin1Query = (sql: string) => msg('Q', Buffer.from(sql + '\0', 'latin1'));
const rows = async (url: string, from: number) => (await sql(url, 'SELECT id, s FROM t WHERE id >= $1 ORDER BY id', [from])).rows;

it('a split request of a LATIN1 client reaches the source byte for byte', async () => {
  const words = await exchangeAfterLogin(tp.url(pair.name), [
    query("SET client_encoding = 'LATIN1'"),
    latin1Query("BEGIN; INSERT INTO t VALUES (1, 'café'); COMMIT"),
    latin1Query("INSERT INTO t VALUES (2, 'naïve'); COMMIT"),
  ], 3);
  expect(words).toContain('C:COMMIT Z:I');
  expect((await sql(pair.legacyUrl, 'SELECT id, s FROM t ORDER BY id')).rows).toEqual([{ id: 1, s: 'café' }, { id: 2, s: 'naïve' }]);
});

it("a LATIN1 or WIN1252 client's writes reach the mirror as the source has them, large rows too, before the COMMIT is answered", async () => {
  const big = 'é'.repeat(70_000);
  await exchangeAfterLogin(tp.url(pair.name), [
    query("SET client_encoding = 'LATIN1'"),
    latin1Query("INSERT INTO t VALUES (10, 'café')"),
    latin1Query(`INSERT INTO t VALUES (11, '${big}')`),
    query('BEGIN'),
    latin1Query("UPDATE t SET s = s || ' naïve' WHERE id = 10"),
    query('COMMIT'),
    query("SET client_encoding = 'WIN1252'"),
    // 0x80 is the euro sign in WIN1252 (a control character in LATIN1)
    msg('Q', Buffer.concat([Buffer.from("INSERT INTO t VALUES (12, '"), Buffer.from([0x80]), Buffer.from(" 5')\0")])),
  ], 8);
  const source = await rows(pair.legacyUrl, 10);
  expect(source.map((r) => r.s.length)).toEqual(['café naïve'.length, big.length, 3]);
  expect(source[2]!.s).toBe('€ 5');
  expect(await rows(pair.targetUrl, 10)).toEqual(source);
});

it("a LATIN1 client's write to a row holding a character LATIN1 lacks commits, as directly, and reaches the mirror", async () => {
  // out of band: the client never reads the column, and PostgreSQL has no reason to convert it for the client
  await sql(pair.legacyUrl, `INSERT INTO t VALUES (20, '中文 €')`);
  await sql(pair.targetUrl, `INSERT INTO t VALUES (20, '中文 €')`);
  const words = await exchangeAfterLogin(tp.url(pair.name), [
    query("SET client_encoding = 'LATIN1'"),
    latin1Query("UPDATE t SET id = 21 WHERE id = 20"),
    query('BEGIN'),
    latin1Query("UPDATE t SET s = s || ' é' WHERE id = 21"),
    query('COMMIT'),
  ], 5);
  expect(words).not.toContain('E:');
  expect(await rows(pair.legacyUrl, 20)).toEqual([{ id: 21, s: '中文 € é' }]);
  expect(await rows(pair.targetUrl, 20)).toEqual([{ id: 21, s: '中文 € é' }]);
});
