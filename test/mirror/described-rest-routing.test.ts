// asyncpg prepares each statement it has not cached with Parse, Describe and
// Flush, and binds and runs it (Bind, Execute, Sync) once the description has
// come: without its statement cache (statement_cache_size=0, its setting
// behind a pooler) every read is so, and with it every statement's first run.
// The first part has gone to the source by then; the rest of a read is routed
// all the same, the source's part ended by a Sync of the proxy's own.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { execute, int16, msg, stepsAfterLogin, sync } from '../proxy/raw-wire.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('described_rest', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
  await sql(pair.legacyUrl, `INSERT INTO t VALUES (1, 'both')`);
  // a row only the new database has: a read that counts it was answered there
  await sql(pair.targetUrl, `INSERT INTO t VALUES (1, 'both'), (99, 'target only')`);
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

const described = (name: string, text: string) => ({ messages: [msg('P', name, text, int16(0)), msg('D', Buffer.from('S'), name), msg('H')], until: 'T' });
const described_ = (name: string, text: string) => ({ messages: [msg('P', name, text, int16(0)), msg('D', Buffer.from('S'), name), msg('H')], until: 'E' });
const run = (name: string) => ({ messages: [msg('B', '', name, int16(0), int16(0), int16(0)), execute(), sync()], until: 'Z' });

it('routes the rest of a read whose first part only parsed and described, unnamed and named', async () => {
  const count = 'SELECT count(*)::text FROM t';
  const answers = await stepsAfterLogin(tp.url(pair.name), [described('', count), run(''), described('s1', count), run('s1'), run('s1'), run('')]);
  expect(answers).toEqual(['1 t T', '2 D:2 C:SELECT 1 Z:I', '1 t T', '2 D:2 C:SELECT 1 Z:I', '2 D:2 C:SELECT 1 Z:I', '2 D:2 C:SELECT 1 Z:I']);
});

it('leaves the rest with the source where the first part failed, or wrote', async () => {
  const answers = await stepsAfterLogin(tp.url(pair.name), [
    described_('', 'SELECT nosuch FROM t'), run(''),
    described('', `INSERT INTO t VALUES (2, 'w') RETURNING id::text`), run(''),
    described('', 'SELECT count(*)::text FROM t WHERE id < 99'), run(''),
  ]);
  // as directly: the failed Parse skips the rest to the Sync; the write runs on the source and is mirrored
  expect(answers).toEqual(['E:42703:ERROR', 'Z:I', '1 t T', '2 D:2 C:INSERT 0 1 Z:I', '1 t T', '2 D:2 C:SELECT 1 Z:I']);
  expect((await sql(pair.targetUrl, 'SELECT v FROM t WHERE id = 2')).rows).toEqual([{ v: 'w' }]);
});
