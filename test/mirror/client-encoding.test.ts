// A client whose client_encoding is not UTF-8 (psycopg2's set_client_encoding('LATIN1'), a legacy
// application's WIN1252) sends text bytes UTF-8 cannot decode. A request split at its COMMIT is sent
// to the source in pieces rebuilt from its text: rebuilt from the replacement characters the UTF-8
// decoding made, 'café' reached the source as 'cafï¿½' (found driving psycopg2 through the proxy).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';
import { exchangeAfterLogin, msg, query } from '../proxy/raw-wire.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_client_encoding', 'CREATE TABLE t (id int PRIMARY KEY, s text);');
  tp = await mirroringProxy(pair);
});
afterAll(async () => {
  await tp?.close();
});

/** A Query whose text is `sql` in LATIN1 bytes. */
const latin1Query = (sql: string) => msg('Q', Buffer.from(sql + '\0', 'latin1'));

it('a split request of a LATIN1 client reaches the source byte for byte', async () => {
  const words = await exchangeAfterLogin(tp.url(pair.name), [
    query("SET client_encoding = 'LATIN1'"),
    latin1Query("BEGIN; INSERT INTO t VALUES (1, 'café'); COMMIT"),
    latin1Query("INSERT INTO t VALUES (2, 'naïve'); COMMIT"),
  ], 3);
  expect(words).toContain('C:COMMIT Z:I');
  expect((await sql(pair.legacyUrl, 'SELECT id, s FROM t ORDER BY id')).rows).toEqual([{ id: 1, s: 'café' }, { id: 2, s: 'naïve' }]);
});
