// A function's body may change the session for what follows: a temporary
// table (hiding a mirrored table of the same name), a SET or
// set_config(…, false), which last for the session. The proxy sees the call,
// not the body: the call runs on the source (a function not known read-only is
// a write), but the session's later reads went on to the read connection on
// the new database, which had none of it, and answered from the permanent
// table, with the old search_path or TimeZone. Each exchange is run directly on
// the source and through the proxy (reads 100 %), on a fresh connection.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { bind, exchangeAfterLogin, execute, parse, query, sync } from '../proxy/raw-wire.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

const SCHEMA = `
  CREATE TABLE n (i int PRIMARY KEY);
  INSERT INTO n VALUES (1);
  CREATE SCHEMA other;
  CREATE TABLE items (id int PRIMARY KEY, v text);
  INSERT INTO items VALUES (1, 'public');
  CREATE TABLE other.items (id int PRIMARY KEY, v text);
  INSERT INTO other.items VALUES (1, 'other');
  CREATE FUNCTION mk() RETURNS int LANGUAGE plpgsql AS $$ BEGIN CREATE TEMP TABLE n (i int); INSERT INTO n VALUES (42); RETURN 1; END $$;
  CREATE FUNCTION to_other() RETURNS int LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('search_path', 'other', false); RETURN 1; END $$;
  CREATE FUNCTION to_tokyo() RETURNS int LANGUAGE plpgsql AS $$ BEGIN SET TimeZone = 'Asia/Tokyo'; RETURN 1; END $$;
  CREATE FUNCTION back_to_utc() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RESET TimeZone; RETURN 1; END $$;
  CREATE FUNCTION noop() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
  CREATE TABLE log (id int PRIMARY KEY);
  CREATE FUNCTION log_to_other() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('search_path', 'other', false); RETURN NEW; END $$;
  CREATE TRIGGER log_to_other AFTER INSERT ON log FOR EACH ROW EXECUTE FUNCTION log_to_other();
`;

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('function_session_effects', SCHEMA);
  tp = await mirroringProxy(pair, { reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

const NOON = query("SELECT '2020-01-01 12:00:00+00'::timestamptz::text");
const call = (fn: string) => query(`SELECT ${fn}()`);
const callExtended = (fn: string) => [parse(`SELECT ${fn}()`), bind(), execute(), sync()];

it.each<[string, Buffer[], Buffer, RegExp]>([
  ['a temporary table made by a function', [call('mk')], query('SELECT i FROM n'), /D:42 C:SELECT 1 Z:I$/],
  ['… called in the extended protocol', callExtended('mk'), query('SELECT i FROM n'), /D:42 C:SELECT 1 Z:I$/],
  ['set_config(search_path) in a function', [call('to_other')], query('SELECT v FROM items'), /D:other C:SELECT 1 Z:I$/],
  ['SET TimeZone in a function', [call('to_tokyo')], NOON, /D:2020-01-01 21:00:00\+09 C:SELECT 1 Z:I$/],
  ['SET TimeZone in a function, then RESET in another, after a read between', [call('to_tokyo'), NOON, call('back_to_utc')], NOON, /D:2020-01-01 21:00:00\+09 C:SELECT 1 Z:I T D:1 C:SELECT 1 Z:I T D:2020-01-01 12:00:00\+00 C:SELECT 1 Z:I$/],
  ['set_config(search_path) in a trigger of the table written', [query('INSERT INTO log SELECT coalesce(max(id), 0) + 1 FROM log')], query('SELECT v FROM items'), /D:other C:SELECT 1 Z:I$/],
  ['a client SET, then SET in a function', [query("SET TimeZone = 'America/New_York'"), NOON, call('to_tokyo')], NOON, /D:2020-01-01 07:00:00-05 .*D:2020-01-01 21:00:00\+09 C:SELECT 1 Z:I$/],
])('%s: the session reads what it made, as directly', async (_, before, read, expected) => {
  const messages = [...before, read];
  const readies = messages.filter((m) => m[0] === 0x51 || m[0] === 0x53).length;
  const direct = await exchangeAfterLogin(pair.legacyUrl, messages, readies);
  expect(direct).toMatch(expected);
  const targetErrors = tp.proxy.guard!.stats.readErrors;
  expect(await exchangeAfterLogin(tp.url(pair.name), messages, readies)).toBe(direct);
  expect(tp.proxy.guard!.stats.readErrors).toBe(targetErrors);
});

it('a function that leaves the session as it was: its reads still go to the new database', async () => {
  // which server answered a read: its port (a setting each server has of its own)
  const port = query("SELECT current_setting('port')");
  const through = await exchangeAfterLogin(tp.url(pair.name), [call('noop'), port, call('to_tokyo'), port, call('noop'), port], 6);
  const target = new URL(pair.targetUrl).port;
  expect(through).toBe(`T D:1 C:SELECT 1 Z:I T D:${target} C:SELECT 1 Z:I T D:1 C:SELECT 1 Z:I T D:${target} C:SELECT 1 Z:I T D:1 C:SELECT 1 Z:I T D:${target} C:SELECT 1 Z:I`);
});
