// Seeded frontend traffic for the differential wire test: a session's worth of
// requests (simple and extended protocol, transactions, COPY, settings, a few
// malformed messages), cut into steps whose ReadyForQuery count is known, so
// the same seed sends the same bytes, paced the same way, to every server.
// Pipelines (several Queries in one write, Queries among extended-protocol
// messages before their Sync or while a flushed batch waits for it, a
// Terminate in the middle) come from a second stream of numbers, so the steps
// the first one draws are those of the generator before them.
import { int16, int32, msg } from './raw-wire.ts';
import { random, type Random } from './hostile-wire.ts';

export interface WireStep {
  /** Sent at once. */
  bytes: Buffer[];
  /** ReadyForQuery messages the step earns; 0: it ends in a Flush, read until the answer goes quiet. */
  readies: number;
  /**
   * `readies` is the least the step earns: a Query among extended-protocol messages is skipped if one of them
   * failed, so whether it gets its ReadyForQuery depends on the answer. Read on until the answer goes quiet.
   */
  more?: true;
  /** What the step is, for a failure report. */
  label: string;
}

/** The tables a scenario reads and writes; `WIRE_RESET` puts back their rows before each run. */
export const WIRE_SCHEMA = `
  CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int, flag boolean, data bytea);
  CREATE TABLE notes (k text PRIMARY KEY, body text);`;
export const WIRE_RESET = `
  DELETE FROM notes; DELETE FROM items;
  INSERT INTO items SELECT g, 'item ' || g, g * 10, g % 2 = 0, decode(lpad(to_hex(g), 4, '0'), 'hex') FROM generate_series(1, 20) g;
  INSERT INTO notes VALUES ('a', 'alpha'), ('b', 'beta')`;

type Param = 'int' | 'text' | 'bytea' | 'unknown';

interface Template {
  sql: string;
  params: Param[];
  /** Result columns (for per-column result formats). */
  cols: number;
}

const t = (sql: string, params: Param[] = [], cols = 0): Template => ({ sql, params, cols });

const READS: Template[] = [
  t('SELECT id, name, qty FROM items WHERE id <= $1 ORDER BY id', ['int'], 3),
  t('SELECT * FROM items WHERE id = $1', ['int'], 5),
  t('SELECT name, flag FROM items WHERE qty > $1 AND name <> $2 ORDER BY id', ['int', 'text'], 2),
  t('SELECT $1::int + 1 AS n, $2::text AS t', ['int', 'text'], 2),
  t('SELECT $1 AS x', ['unknown'], 1),
  t('SELECT generate_series(1, 12) AS g', [], 1),
  t('SELECT id, data FROM items WHERE data = $1 OR id = 3 ORDER BY id', ['bytea'], 2),
  t('SELECT count(*) FROM items', [], 1),
  t('SELECT k, body FROM notes ORDER BY k', [], 2),
  t("SELECT '2024-01-01 12:00:00+00'::timestamptz AS ts, '1.5 days'::interval AS iv, 0.1::float8 AS f", [], 3),
  t("SELECT current_setting('application_name'), current_setting('fz.var', true)", [], 2),
  t('SHOW TimeZone', [], 1),
  t('SELECT id FROM items ORDER BY id LIMIT 3 FOR UPDATE', [], 1),
  t('VALUES (1, $1::text), (2, NULL)', ['text'], 2),
];
const ERRORS: Template[] = [
  t('SELECT 1/0', [], 1),
  t('SELECT nosuch FROM items', [], 1),
  t('SELECT * FROM nosuch_table', [], 1),
  t('SELECT id FROM items WHERE id = $1 AND name = 1', ['int'], 1),
  t("SELECT 'x'::int", [], 1),
];
const WRITES: Template[] = [
  t('INSERT INTO items (id, name, qty) VALUES ($1, $2, $3) RETURNING id, name', ['int', 'text', 'int'], 2),
  t('UPDATE items SET qty = qty + $1 WHERE id <= $2', ['int', 'int']),
  t('DELETE FROM items WHERE id = $1 RETURNING name', ['int'], 1),
  t('INSERT INTO notes VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET body = excluded.body', ['text', 'text']),
  t('UPDATE notes SET body = body || $1 WHERE k = $2 RETURNING body', ['text', 'text'], 1),
  t("UPDATE items SET flag = NOT flag, data = $1 WHERE id = $2 RETURNING id, flag, data", ['bytea', 'int'], 3),
];
const TXN = ['BEGIN', 'COMMIT', 'ROLLBACK', 'SAVEPOINT s1', 'ROLLBACK TO SAVEPOINT s1', 'RELEASE SAVEPOINT s1', 'BEGIN ISOLATION LEVEL REPEATABLE READ', 'START TRANSACTION READ ONLY', 'END', 'ABORT'];
const SETTINGS = [
  "SET TimeZone = 'Asia/Tokyo'", "SET TimeZone = 'UTC'", "SET application_name = 'fz'", 'SET search_path = public', 'RESET ALL',
  "SET LOCAL statement_timeout = '5s'", 'RESET TimeZone', "SET datestyle = 'SQL, DMY'", "SET intervalstyle = 'iso_8601'",
  'SET extra_float_digits = 0', "SET bytea_output = 'escape'", "SET fz.var = 'v1'", "SELECT set_config('fz.var', 'v2', false)",
  'SHOW datestyle', 'SHOW application_name',
];
const DO_BLOCKS = [
  "DO $$ BEGIN RAISE NOTICE 'note %', 1; END $$",
  "DO $$ BEGIN RAISE WARNING 'careful' USING DETAIL = 'a detail', HINT = 'a hint'; END $$",
  "DO $$ BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = 'P0001'; END $$",
];
// (a table's own order changes with its updates, and differently run to run: each in key order)
const COPY_OUT = ['COPY (SELECT id, name FROM items ORDER BY id) TO STDOUT', 'COPY (SELECT k, body FROM notes ORDER BY k) TO STDOUT WITH (FORMAT csv, HEADER)', 'COPY (SELECT * FROM notes ORDER BY k) TO STDOUT (FORMAT binary)'];
const TEXTS = ['a', 'b', 'zeta', 'ünï', "it's", ''];

function value(r: Random, p: Param): string | Buffer {
  switch (p) {
    case 'int': return String(r.int(30) - 2);
    case 'bytea': return Buffer.from([0, r.int(25)]);
    default: return r.pick(TEXTS);
  }
}

function literal(p: Param, v: string | Buffer): string {
  if (Buffer.isBuffer(v)) return `'\\x${v.toString('hex')}'::bytea`;
  return p === 'int' ? v : `'${v.replace(/'/g, "''")}'`;
}

/** The template as one statement of a simple Query, its parameters written in. */
function inline(r: Random, tpl: Template): string {
  const values = tpl.params.map((p) => value(r, p));
  return tpl.sql.replace(/\$(\d+)/g, (_, n: string) => `(${literal(tpl.params[Number(n) - 1]!, values[Number(n) - 1]!)})`);
}

function simpleStatement(r: Random): string {
  switch (r.int(9)) {
    case 0: case 1: case 2: return inline(r, r.pick(READS));
    case 3: case 4: return inline(r, r.pick(WRITES));
    case 5: return r.pick(TXN);
    case 6: return r.pick(SETTINGS);
    case 7: return r.int(2) ? r.pick(DO_BLOCKS) : r.pick(COPY_OUT);
    default: return inline(r, r.pick(ERRORS));
  }
}

const cstr = (s: string) => Buffer.from(s + '\0');

function binary(p: Param, v: string | Buffer): Buffer {
  if (Buffer.isBuffer(v)) return v;
  return p === 'int' ? int32(Number(v)) : Buffer.from(v);
}

/** A Bind of `tpl` (as parsed under `statement`) with values drawn for its parameters; one in twelve malformed. */
function bindMessage(r: Random, portal: string, statement: string, tpl: Template): Buffer {
  const n = tpl.params.length;
  let formats: number[];
  switch (r.int(5)) {
    case 0: formats = []; break;
    case 1: formats = [0]; break;
    case 2: formats = [1]; break;
    default: formats = tpl.params.map(() => r.int(2));
  }
  // a count that is neither 0, 1 nor the parameters' (08P01), or a value too few (08P01)
  const broken = r.int(12) === 0 ? r.int(2) : -1;
  if (broken === 0 && n !== 2) formats = [0, 1];
  const values = tpl.params.map((p, i) => {
    const v = value(r, p);
    const f = formats.length === 1 ? formats[0] : formats[i] ?? 0;
    const b = f === 1 ? binary(p, v) : Buffer.from(Buffer.isBuffer(v) ? `\\x${v.toString('hex')}` : v);
    return Buffer.concat([int32(b.length), b]);
  });
  if (broken === 1 && values.length) values.pop();
  const nullOne = values.length && r.int(10) === 0 ? [int32(-1)] : null;
  if (nullOne) values[r.int(values.length)] = nullOne[0]!;
  let results: number[];
  switch (r.int(6)) {
    case 0: results = [1]; break;
    case 1: results = tpl.cols ? Array.from({ length: tpl.cols }, () => r.int(2)) : []; break;
    // more than one and not one per column (08P01)
    case 2: results = r.int(4) === 0 ? Array<number>(tpl.cols === 2 ? 3 : 2).fill(0) : [0]; break;
    default: results = [];
  }
  return msg('B', cstr(portal), cstr(statement), int16(formats.length), ...formats.map(int16), int16(values.length), ...values, int16(results.length), ...results.map(int16));
}

const OIDS: Record<Param, number> = { int: 23, text: 25, bytea: 17, unknown: 0 };

function parseMessage(r: Random, name: string, tpl: Template): Buffer {
  // parameter types: none (the server infers them), or as the template says
  const typed = r.int(2) === 0;
  return msg('P', cstr(name), cstr(tpl.sql), int16(typed ? tpl.params.length : 0), ...(typed ? tpl.params.map((p) => int32(OIDS[p])) : []));
}

const describe = (kind: 'S' | 'P', name: string) => msg('D', Buffer.from(kind), cstr(name));
const execute = (portal: string, rows: number) => msg('E', cstr(portal), int32(rows));
const close = (kind: 'S' | 'P', name: string) => msg('C', Buffer.from(kind), cstr(name));
const SYNC = msg('S');
const FLUSH = msg('H');
const query = (sql: string) => msg('Q', cstr(sql));

function anyTemplate(r: Random): Template {
  const n = r.int(10);
  if (n < 5) return r.pick(READS);
  if (n < 8) return r.pick(WRITES);
  if (n < 9) return r.pick(ERRORS);
  return r.pick([t(r.pick(TXN)), t(r.pick(SETTINGS), [], 1), t(r.pick(DO_BLOCKS)), t(r.pick(COPY_OUT), [], 2)]);
}

/** The scenario for `seed`: 8–20 steps, then a ROLLBACK and a last SELECT so every run ends alike. */
export function wireScenario(seed: number): WireStep[] {
  const r = random(seed * 7919 + 17);
  const main = r;
  const piped = random(seed * 104729 + 5);
  // named statements as the generator believes them parsed (a failed Parse leaves a later Bind to fail: the same everywhere)
  const named = new Map<string, Template>();
  const steps: WireStep[] = [];
  const n = 8 + r.int(13);

  /** One Parse/Bind/Describe/Execute segment (no Sync), for an existing or new statement. */
  const segment = (out: Buffer[], words: string[], r: Random = main) => {
    const reuse = named.size > 0 && r.int(3) === 0;
    let name: string;
    let tpl: Template;
    if (reuse) {
      name = r.pick([...named.keys()]);
      tpl = named.get(name)!;
    } else {
      name = r.pick(['', '', 's1', 's2']);
      tpl = anyTemplate(r);
      out.push(parseMessage(r, name, tpl));
      // a name in use is refused (42P05): the statement stays what it was
      if (name === '' || !named.has(name)) named.set(name, tpl);
    }
    if (r.int(3) === 0) out.push(describe('S', name));
    const portal = r.pick(['', '', 'p1']);
    out.push(bindMessage(r, portal, name, tpl));
    if (r.int(3) === 0) out.push(describe('P', portal));
    const limited = r.int(3) === 0;
    out.push(execute(portal, limited ? 1 + r.int(4) : 0));
    if (limited) for (let i = r.int(3); i >= 0; i--) out.push(execute(portal, r.int(3) ? 1 + r.int(5) : 0));
    if (portal && r.int(3) === 0) out.push(close('P', portal));
    words.push(`${reuse ? 'reuse' : 'parse'} ${JSON.stringify(name)} ${JSON.stringify(tpl.sql.slice(0, 40))}${portal ? ' →' + portal : ''}${limited ? ' limited' : ''}`);
  };

  /** A pipeline step drawn from `piped`; true: it ended the session (Terminate). */
  const pipeline = (late: boolean): boolean => {
    const g = piped;
    const words: string[] = [];
    const how = g.int(10);
    if (how <= 2 || (how === 9 && !late)) {
      // several Queries in one write (psql -c 'a' -c 'b', a driver pipelining simple queries): each answered to its ReadyForQuery
      const qs = Array.from({ length: 2 + g.int(3) }, () => Array.from({ length: 1 + g.int(2) }, () => simpleStatement(g)).join('; '));
      steps.push({ bytes: qs.map(query), readies: qs.length, label: `QQ ${qs.map((q) => q.slice(0, 50)).join(' ‖ ')}` });
      return false;
    }
    if (how <= 5) {
      // a Query among extended-protocol messages before their Sync (libpq pipeline mode mixing PQsendQuery): skipped if one of them failed
      const out: Buffer[] = [];
      segment(out, words, g);
      if (g.int(3) === 0) out.push(FLUSH);
      const sql = simpleStatement(g);
      out.push(query(sql));
      words.push(`Q ${sql.slice(0, 50)}`);
      if (g.int(2)) segment(out, words, g);
      out.push(SYNC);
      // and behind the Sync, another Query, answered whatever happened before it
      const after = g.int(2) ? simpleStatement(g) : null;
      if (after) {
        out.push(query(after));
        words.push(`sync, Q ${after.slice(0, 50)}`);
      }
      steps.push({ bytes: out, readies: after ? 2 : 1, more: true, label: `XQ ${words.join(' | ')}` });
      return false;
    }
    if (how <= 8) {
      // a batch flushed, its Sync not sent; a Query while it waits (answered after the batch, or skipped if it failed); then the Sync
      const out: Buffer[] = [];
      segment(out, words, g);
      out.push(FLUSH);
      steps.push({ bytes: out, readies: 0, label: `flushed batch ${words.join(' | ')}` });
      const sql = simpleStatement(g);
      steps.push({ bytes: [query(sql)], readies: 0, label: `Q before the Sync: ${sql.slice(0, 80)}` });
      const rest: Buffer[] = [];
      const more: string[] = [];
      if (g.int(2)) segment(rest, more, g);
      rest.push(SYNC);
      steps.push({ bytes: rest, readies: 1, label: `then ${more.join(' | ')} sync` });
      return false;
    }
    // a Terminate in the middle of a pipeline: what came before it is answered (a segment without its Sync rolled
    // back with the session), nothing after it
    const out: Buffer[] = [query(simpleStatement(g))];
    segment(out, words, g);
    if (g.int(2)) out.push(SYNC);
    out.push(msg('X'), query("SELECT 'after terminate'"));
    steps.push({ bytes: out, readies: 1, more: true, label: `terminate amid ${words.join(' | ')}` });
    return true;
  };

  for (let i = 0; i < n; i++) {
    if (piped.int(5) === 0 && pipeline(i >= n / 2)) return steps;
    const kind = r.int(12);
    if (kind <= 2) {
      const count = 1 + r.int(4);
      const sql = Array.from({ length: count }, () => simpleStatement(r)).join('; ');
      steps.push({ bytes: [query(r.int(10) ? sql : sql + ';')], readies: 1, label: `Q ${sql.slice(0, 120)}` });
    } else if (kind === 3) {
      steps.push({ bytes: [query(r.pick(['', ' ', ';', '-- nothing']))], readies: 1, label: 'empty query' });
    } else if (kind <= 6) {
      // an extended-protocol batch: one to three segments, each with its Sync or all under one
      const out: Buffer[] = [];
      const words: string[] = [];
      const segments = 1 + r.int(3);
      const eachSync = r.int(2) === 0;
      let readies = 0;
      for (let s = 0; s < segments; s++) {
        segment(out, words);
        if (eachSync || s === segments - 1) {
          out.push(SYNC);
          readies++;
        } else if (r.int(3) === 0) out.push(FLUSH);
      }
      steps.push({ bytes: out, readies, label: `X ${words.join(' | ')}` });
    } else if (kind === 7) {
      // a portal read a few rows at a time, the client waiting for each answer behind a Flush
      const tpl = r.pick([READS[5]!, READS[0]!, READS[8]!]);
      const portal = r.pick(['', 'p1']);
      steps.push({ bytes: [parseMessage(r, '', tpl), bindMessage(r, portal, '', tpl), execute(portal, 2), FLUSH], readies: 0, label: `flush ${tpl.sql.slice(0, 30)}` });
      steps.push({ bytes: [execute(portal, 3), FLUSH], readies: 0, label: 'flush more' });
      steps.push({ bytes: [execute(portal, 0), SYNC], readies: 1, label: 'rest and sync' });
    } else if (kind === 8) {
      // COPY FROM STDIN: rows, bad rows, or the client giving up
      const rows = Array.from({ length: 1 + r.int(3) }, () => `${r.pick(['c', 'd', 'a', 'e'])}${r.int(3)}\t${r.pick(TEXTS)}\n`);
      const how = r.int(4);
      const data = how === 0 ? [...rows, 'zz\n'] : rows;
      const end = how === 1 ? msg('f', cstr('client gave up')) : msg('c');
      steps.push({ bytes: [query('COPY notes (k, body) FROM STDIN'), ...data.map((d) => msg('d', Buffer.from(d))), end], readies: 1, label: `copy in ${how === 1 ? 'fail' : how === 0 ? 'bad' : 'ok'}` });
    } else if (kind === 9) {
      // close or redefine a name
      const name = r.pick(['s1', 's2', '']);
      const closing = r.int(2) === 0;
      const tpl = anyTemplate(r);
      const out = closing ? [close('S', name), SYNC] : [parseMessage(r, name, tpl), SYNC];
      if (closing) named.delete(name);
      else if (name === '' || !named.has(name)) named.set(name, tpl);
      steps.push({ bytes: out, readies: 1, label: `close/redefine ${JSON.stringify(name)}` });
    } else if (kind === 10) {
      steps.push({ bytes: [query(r.pick(TXN))], readies: 1, label: 'txn' });
    } else {
      // Describe of a statement with a parameter of unknown type, and of a statement only
      const tpl = r.pick([READS[4]!, READS[3]!, t('SELECT $1, $2', ['unknown', 'unknown'], 2), WRITES[0]!]);
      steps.push({ bytes: [msg('P', cstr('d1'), cstr(tpl.sql), int16(0)), describe('S', 'd1'), close('S', 'd1'), SYNC], readies: 1, label: `describe ${tpl.sql.slice(0, 40)}` });
    }
  }
  steps.push({ bytes: [query('ROLLBACK'), query("SELECT 'end'")], readies: 2, label: 'end' });
  return steps;
}
