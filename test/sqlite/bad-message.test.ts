// Hand-made protocol sequences on an SQLite source, without and with
// mirroring, compared with a real server where PostgreSQL's answer is the
// point. A message body that does not read as its type says (a bad subtype, a
// string without its NUL, bytes after the last field) is an ERROR there and
// the session goes on; the engine ended the session instead, or accepted
// trailing bytes. A type no frontend sends ends the session: the FATAL was
// sent, but without mirroring the connection stayed open (the engine's stream
// ended on its reading side only, which the byte relay did not take for the
// end of the session).
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bind, exchangeAfterLogin, execute, int16, int32, msg, parse, query, sync } from '../proxy/raw-wire.ts';
import { referenceDatabase, startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';
import { startSqliteProxy, type SqliteProxy } from './sqlite-harness.ts';

let plain: SqliteProxy;
let mirror: SqliteMirror;
let ref: string;

beforeAll(async () => {
  [plain, mirror, ref] = await Promise.all([
    startSqliteProxy(),
    startSqliteMirror('sqlite_bad_message', 'CREATE TABLE t (id INTEGER PRIMARY KEY)'),
    referenceDatabase('sqlite_bad_message_ref', 'CREATE TABLE t (id bigint PRIMARY KEY)'),
  ]);
});
afterAll(async () => {
  await Promise.all([plain?.close(), mirror?.close()]);
});

const unterminated = Buffer.concat([Buffer.from('P'), int32(4 + 6), Buffer.from('\0SELEC')]);

describe('SQLite source without mirroring: message bodies that do not read as their type says', () => {
  it('are answered as PostgreSQL answers them (an ERROR, the session goes on)', async () => {
    const messages = [
      msg('D', Buffer.from('Z'), 'x'), sync(),
      msg('C', Buffer.from('Q'), 'x'), sync(),
      msg('C', 'S', 'x'), sync(), // a trailing byte after the name
      msg('E', Buffer.from([0, 0])), sync(),
      msg('Q', Buffer.from('SELECT 1')), // no terminating NUL
      query('BEGIN'), unterminated, sync(), query('COMMIT'),
      msg('P', '', 'SELECT 1', int16(0), Buffer.from('zz')), sync(),
      msg('E', '', int32(0), Buffer.from('q')), sync(),
      query('SELECT 4'),
    ];
    const [got, want] = await Promise.all([exchangeAfterLogin(plain.url(), messages, 11), exchangeAfterLogin(ref, messages, 11)]);
    expect(want.match(/E:08P01:ERROR/g)).toHaveLength(8);
    expect(got).toBe(want);
  });
});

describe('SQLite source mirroring: a message body that does not read as its type says', () => {
  it('is an ERROR 08P01 after the answers before it, and the session goes on, as on PostgreSQL', async () => {
    const messages = [query('SELECT 1'), unterminated, sync(), query('SELECT 2')];
    const [got, want] = await Promise.all([exchangeAfterLogin(mirror.url(), messages, 3), exchangeAfterLogin(ref, messages, 3)]);
    expect(want).toBe('T D:1 C:SELECT 1 Z:I E:08P01:ERROR Z:I T D:2 C:SELECT 1 Z:I');
    expect(got).toBe(want);
    expect(mirror.tp.proxy.stats().sourceAvailable).toBe(true);
  });
});

describe('SQLite source mirroring: DDL in a Query behind extended-protocol messages without their Sync', () => {
  it('is refused (0A000) and nothing is created, as when it comes alone', async () => {
    const got = await exchangeAfterLogin(mirror.url(), [parse('SELECT 6'), bind(), execute(), query('CREATE TABLE made_in_segment (a int)'), sync()], 2);
    expect(got).toBe('1 2 D:6 C:SELECT 1 E:0A000:ERROR Z:I Z:I');
    // among transaction control
    const inBlock = await exchangeAfterLogin(mirror.url(), [parse('SELECT 7'), bind(), execute(), query('BEGIN; CREATE TABLE made_in_segment (a int); COMMIT'), sync()], 2);
    expect(inBlock).toBe('1 2 D:7 C:SELECT 1 E:0A000:ERROR Z:I Z:I');
    const db = new Database(mirror.file, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'made_in_segment'").get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });
});

describe.each([
  ['without mirroring', () => plain.url(), () => plain.tp],
  ['mirroring', () => mirror.url(), () => mirror.tp],
])('SQLite source %s', (_, url, proxyOf) => {
  it('a message type no frontend sends: FATAL 08P01 after the answers before it, and the connection closed', async () => {
    expect(await exchangeAfterLogin(url(), [query('SELECT 2'), msg('Z')], 2)).toBe('T D:2 C:SELECT 1 Z:I E:08P01:FATAL [closed]');
    // other sessions go on, and the source is no less available (a FATAL ended one session: /readyz stays 200)
    expect(await exchangeAfterLogin(url(), [query('SELECT 3')], 1)).toBe('T D:3 C:SELECT 1 Z:I');
    expect(proxyOf().proxy.stats().sourceAvailable).toBe(true);
  });

  it('a Query behind extended-protocol messages without their Sync: after them, or skipped when one failed, as by PostgreSQL', async () => {
    const cases: [Buffer[], number][] = [
      [[parse('SELECT 5'), bind(), execute(), query('SELECT 2'), sync(), query('SELECT 3')], 3],
      [[parse('SELEC 1'), query('SELECT 2'), query('BEGIN'), sync(), query('SELECT 3')], 2],
    ];
    for (const [messages, readies] of cases) {
      const [got, want] = await Promise.all([exchangeAfterLogin(url(), messages, readies), exchangeAfterLogin(ref, messages, readies)]);
      expect(got).toBe(want);
    }
  });
});
