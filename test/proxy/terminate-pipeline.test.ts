// A Terminate at the end of a pipeline: PostgreSQL answers everything that came
// before it, then closes the connection (a client may read those answers until
// it sees the close). The byte relay closed the client's connection as soon as
// it passed the Terminate on, before the server had answered. Compared with
// the server directly, through the byte relay and through the mirroring proxy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair } from '../mirror/mirrored-pair.ts';
import { startTestProxy, type TestProxy } from './proxy-harness.ts';
import { bind, exchangeAfterLogin, execute, msg, parse, query, sync } from './raw-wire.ts';

const sides: Record<'byte relay' | 'mirroring', { pair: DbPair; tp: TestProxy }> = {} as never;

beforeAll(async () => {
  const plain = await databasePair('terminate_pipeline');
  await sql(plain.legacyUrl, 'CREATE TABLE t (id int PRIMARY KEY)');
  sides['byte relay'] = { pair: plain, tp: await startTestProxy({ source: plain.legacyUrl }) };
  const mirrored = await mirroredPair('terminate_pipeline_m', 'CREATE TABLE t (id int PRIMARY KEY)');
  sides.mirroring = { pair: mirrored, tp: await startTestProxy({ source: mirrored.legacyUrl, target: mirrored.targetUrl }) };
});
afterAll(async () => {
  await Promise.all(Object.values(sides).map((s) => s.tp.close()));
});

describe.each(['byte relay', 'mirroring'] as const)('through the %s', (mode) => {
  it('what came before a Terminate is answered, then the connection closes; a write synced before it stays, one not synced rolls back', async () => {
    const { pair, tp } = sides[mode];
    const messages = (id: number) => [
      query('SELECT 1'), parse(`INSERT INTO t VALUES (${id})`), bind(), execute(), sync(),
      parse(`INSERT INTO t VALUES (${id + 1})`), bind(), execute(), msg('X'), query('SELECT 2'),
    ];
    // (more ReadyForQuery than come: read to the close)
    const direct = await exchangeAfterLogin(pair.legacyUrl, messages(10), 9);
    expect(direct).toBe('T D:1 C:SELECT 1 Z:I 1 2 C:INSERT 0 1 Z:I [closed]');
    expect(await exchangeAfterLogin(tp.url(pair.name), messages(20), 9)).toBe(direct);
    expect((await sql(pair.legacyUrl, 'SELECT id FROM t ORDER BY id')).rows.map((r) => r.id)).toEqual([10, 20]);
  });

  it('an error among the messages without their Sync is sent, with what was answered before it, as the server sends an error at once', async () => {
    const { pair, tp } = sides[mode];
    const messages = [parse('SELECT 1'), bind(), execute(), parse('SELECT 1/0'), bind(), execute(), parse('SELECT 2'), msg('X')];
    const direct = await exchangeAfterLogin(pair.legacyUrl, messages, 9);
    expect(direct).toBe('1 2 D:1 C:SELECT 1 1 E:22012:ERROR [closed]');
    expect(await exchangeAfterLogin(tp.url(pair.name), messages, 9)).toBe(direct);
  });
});
