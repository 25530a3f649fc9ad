// Refusals in an extended-protocol request a Flush sends before its Sync (as
// pg-cursor does, and drivers that describe a statement first). A DDL refusal
// came with a ReadyForQuery of the proxy's own, so the client's Sync got a
// second one; PREPARE TRANSACTION was not refused at all and took its writes
// past the mirror (found by replaying node-postgres's bound-command tests on
// the wire through the proxy).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';
import { bind, exchangeAfterLogin, execute, int16, msg, parse, query, sync } from '../proxy/raw-wire.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_refuse_flush', 'CREATE TABLE t (id int PRIMARY KEY);');
  tp = await mirroringProxy(pair);
});
afterAll(async () => {
  await tp?.close();
});

const flush = () => msg('H');

describe('a refusal ahead of the Sync', () => {
  it('DDL: the error, then one ReadyForQuery for the Sync', async () => {
    const words = await exchangeAfterLogin(tp.url(pair.name), [parse('CREATE TABLE zz (x int)'), bind(), execute(), flush(), sync(), query('SELECT 1')], 2);
    expect(words).toBe('1 2 E:0A000:ERROR Z:I T D:1 C:SELECT 1 Z:I');
    expect((await sql(pair.legacyUrl, "SELECT to_regclass('zz') IS NULL AS absent")).rows).toEqual([{ absent: true }]);
  });

  it('DDL prepared by name earlier: answers only for the messages the client sent', async () => {
    const named = msg('P', 'ddl1', 'CREATE TABLE zz (x int)', int16(0));
    const bound = msg('B', '', 'ddl1', int16(0), int16(0), int16(0));
    const words = await exchangeAfterLogin(tp.url(pair.name), [named, sync(), bound, execute(), flush(), sync()], 2);
    expect(words).toBe('1 Z:I 2 E:0A000:ERROR Z:I');
  });

  it('PREPARE TRANSACTION is refused as with a Sync: nothing prepared, nothing past the mirror', async () => {
    const words = await exchangeAfterLogin(
      tp.url(pair.name),
      [query('BEGIN'), query('INSERT INTO t VALUES (5)'), parse("PREPARE TRANSACTION 'p1'"), bind(), execute(), flush(), sync(), query('ROLLBACK')],
      4,
    );
    expect(words).toBe('C:BEGIN Z:T C:INSERT 0 1 Z:T 1 2 E:0A000:ERROR Z:E C:ROLLBACK Z:I');
    expect((await sql(pair.legacyUrl, 'SELECT gid FROM pg_prepared_xacts')).rows).toEqual([]);
    expect((await sql(pair.legacyUrl, 'SELECT id FROM t')).rows).toEqual([]);
  });
});
