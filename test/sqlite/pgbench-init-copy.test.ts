// What `pgbench -i` sends, and COPY, against the proxy serving an SQLite file, with
// real clients: pgbench (client- and server-side generation, then its built-in
// workloads in every query mode), psql's \copy, node-postgres with pg-copy-streams,
// postgres.js's writable/readable COPY, and libpq's extended-protocol COPY as raw
// messages. Answers (values, SQLSTATEs, messages) are PostgreSQL 15's for the same
// input; the file itself is read with better-sqlite3 where what was stored matters
// (keys after ALTER TABLE, storage classes COPY wrote, pgbench's balances).
// Cases headed "[COPY TO]" need COPY … TO STDOUT; the others only COPY … FROM STDIN.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { bind, exchangeAfterLogin, execute, msg, parse, sync } from '../proxy/raw-wire.ts';
import { connectClient } from './mirror-harness.ts';
import { PASSWORD, USER, startSqliteProxy, type SqliteProxy } from './sqlite-harness.ts';

const run = promisify(execFile);
let sp: SqliteProxy;
let bin: (tool: string) => string;
let dir: string;

beforeAll(async () => {
  sp = await startSqliteProxy();
  const binDir = inject('legacy').binDir;
  bin = (tool) => path.join(binDir, tool);
  dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-copy-'));
});
afterAll(async () => {
  await sp?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const env = () => ({ ...process.env, PGPASSWORD: PASSWORD, PGHOST: '127.0.0.1', PGUSER: USER, PGPORT: String(sp.tp.port), PGDATABASE: 'app' });

// A client left waiting (a message the engine never answers) ends as a failure naming the step, not as the
// test's timeout: the whole file stays short when the feature is missing too.
const CLIENT_LIMIT_MS = 30_000;

async function within<T>(what: string, p: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

interface PgbenchRun {
  processed: number;
  failed: number;
  stderr: string;
}

async function pgbench(args: string[]): Promise<PgbenchRun> {
  try {
    const { stdout, stderr } = await run(bin('pgbench'), args, { env: env(), timeout: CLIENT_LIMIT_MS });
    return {
      processed: Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1] ?? NaN),
      failed: Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? NaN),
      stderr,
    };
  } catch (e) {
    const x = e as { code?: number; signal?: string; stderr?: string };
    throw new Error(`pgbench ${args.join(' ')} exited ${x.code ?? x.signal}: ${x.stderr?.trim()}`);
  }
}

interface PsqlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A psql script from a file (so \copy lines are read as psql reads them); never throws. */
async function psqlScript(script: string, opts: { stopOnError?: boolean } = {}): Promise<PsqlRun> {
  const file = path.join(mkdtempSync(path.join(dir, 'script-')), 'script.sql');
  writeFileSync(file, script);
  const args = ['-X', '-A', '-t', '-v', 'VERBOSITY=verbose', ...(opts.stopOnError === false ? [] : ['-v', 'ON_ERROR_STOP=1']), '-f', file];
  try {
    const { stdout, stderr } = await run(bin('psql'), args, { env: env(), timeout: CLIENT_LIMIT_MS });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

function dataFile(name: string, content: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

/** Rows as the server's text (null for NULL), in the order asked. */
async function rows(c: pg.Client, text: string): Promise<(string | null)[][]> {
  return (await c.query({ text, rowMode: 'array' })).rows as (string | null)[][];
}

/** The file itself, read-only, beside the proxy's connections (WAL: it sees what they committed). */
function onFile<T>(read: (db: Database.Database) => T): T {
  const db = new Database(sp.file, { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

const keyColumns = (db: Database.Database, table: string): string[] =>
  db.prepare('SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk').pluck().all(table) as string[];

/** Data cut into CopyData-sized pieces at the given byte offsets. */
function cutAt(data: Buffer, offsets: number[]): Buffer[] {
  const at = [...new Set(offsets.filter((o) => o > 0 && o < data.length))].sort((a, b) => a - b);
  return [0, ...at].map((start, i) => data.subarray(start, at[i] ?? data.length));
}

/** Deterministic pseudo-random piece lengths (mulberry32), so a failure replays with the same cuts. */
function randomOffsets(length: number, seed: number, maxPiece: number): number[] {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out: number[] = [];
  for (let o = 1 + Math.floor(next() * maxPiece); o < length; o += 1 + Math.floor(next() * maxPiece)) out.push(o);
  return out;
}

/** Offsets inside the first few occurrences of `needle`: a multi-byte character or an escape split across messages. */
function insideEach(data: Buffer, needle: string, times: number): number[] {
  const n = Buffer.from(needle);
  const out: number[] = [];
  for (let from = 0, k = 0; k < times; k++) {
    const i = data.indexOf(n, from);
    if (i < 0) break;
    for (let j = 1; j < n.length; j++) out.push(i + j);
    from = i + n.length;
  }
  return out;
}

const startsMidCharacter = (piece: Buffer) => (piece[0]! & 0xc0) === 0x80;

/** The first row that differs, or undefined: a 20 000-row toEqual diff would bury the one that matters. */
function firstDifference(got: unknown[][], want: unknown[][]): { index: number; got: unknown; want: unknown } | undefined {
  for (let i = 0; i < Math.max(got.length, want.length); i++) {
    if (JSON.stringify(got[i]) !== JSON.stringify(want[i])) return { index: i, got: got[i], want: want[i] };
  }
  return undefined;
}

/** PostgreSQL's text COPY form of a value. */
const textField = (v: string | null) =>
  v === null ? '\\N' : v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
/** CSV, every value quoted: an empty string stays one, NULL is the empty unquoted field. */
const csvField = (v: string | null) => (v === null ? '' : `"${v.replace(/"/g, '""')}"`);

/** A client for one case, closed after it even when a failed COPY left it unusable (so the next case starts clean). */
async function withClient<T>(use: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = await connectClient(sp.url());
  c.on('error', () => undefined);
  try {
    return await use(c);
  } finally {
    await within('closing the client', c.end(), 2_000).catch(() => undefined);
  }
}

async function expectWriteLockFree(): Promise<void> {
  // a COPY that failed must not keep the engine's write lock: another session writes at once
  const other = await connectClient(sp.url());
  try {
    await other.query("SET lock_timeout = '1s'");
    await other.query('BEGIN');
    await other.query("INSERT INTO ce VALUES (-1, -1, 'probe')");
    await other.query('ROLLBACK');
  } finally {
    await other.end();
  }
}

// ---------------------------------------------------------------------------------------------

const PGBENCH_TABLES = ['pgbench_accounts', 'pgbench_branches', 'pgbench_history', 'pgbench_tellers'];

/** What `pgbench -i -s 1` leaves, whichever way it generated the rows. */
function expectInitializedScale1(): void {
  const seen = onFile((db) => ({
    counts: db.prepare(`SELECT (SELECT count(*) FROM pgbench_accounts), (SELECT count(*) FROM pgbench_tellers),
      (SELECT count(*) FROM pgbench_branches), (SELECT count(*) FROM pgbench_history)`).raw().get(),
    accounts: db.prepare(`SELECT count(DISTINCT aid), min(aid), max(aid), sum(bid = 1), sum(abalance = 0),
      sum(typeof(aid) = 'integer' AND typeof(bid) = 'integer' AND typeof(abalance) = 'integer') FROM pgbench_accounts`).raw().get(),
    tellers: db.prepare("SELECT group_concat(tid || ':' || bid || ':' || tbalance, ' ') FROM (SELECT * FROM pgbench_tellers ORDER BY tid)").pluck().get(),
    branches: db.prepare("SELECT group_concat(bid || ':' || bbalance) FROM pgbench_branches").pluck().get(),
    keys: Object.fromEntries(PGBENCH_TABLES.map((t) => [t, keyColumns(db, t)])),
  }));
  expect(seen.counts).toEqual([100000, 10, 1, 0]);
  expect(seen.accounts).toEqual([100000, 1, 100000, 100000, 100000, 100000]);
  expect(seen.tellers).toBe(Array.from({ length: 10 }, (_, i) => `${i + 1}:1:0`).join(' '));
  expect(seen.branches).toBe('1:0');
  // the `p` step: ALTER TABLE … ADD PRIMARY KEY on three of them; history has none
  expect(seen.keys).toEqual({ pgbench_accounts: ['aid'], pgbench_branches: ['bid'], pgbench_history: [], pgbench_tellers: ['tid'] });
}

describe('pgbench -i over an SQLite file', () => {
  it('-I dtGvp: server-side generation (INSERT … SELECT … FROM generate_series) in a transaction after TRUNCATE', async () => {
    const init = await pgbench(['-i', '-I', 'dtGvp', '-s', '1', '-q']);
    expect(init.stderr).toContain('generating data (server-side)');
    expectInitializedScale1();
    const c = await connectClient(sp.url());
    try {
      // the key the rebuild added is enforced, under PostgreSQL's name for it
      await expect(c.query('INSERT INTO pgbench_tellers (tid, bid, tbalance) VALUES (10, 1, 0)')).rejects.toMatchObject({
        code: '23505', message: 'duplicate key value violates unique constraint "pgbench_tellers_pkey"',
      });
      await expect(c.query('INSERT INTO pgbench_accounts (aid, bid, abalance) VALUES (NULL, 1, 0)')).rejects.toMatchObject({ code: '23502' });
    } finally {
      await c.end();
    }
  });

  it('-i (dtgvp: COPY … WITH (FREEZE ON)), then -S, -N and tpcb-like in simple, extended and prepared modes: no failures, balances add up', async () => {
    const init = await pgbench(['-i', '-s', '1', '-q']);
    expect(init.stderr).toContain('generating data (client-side)');
    expectInitializedScale1();
    // the COPY path stores pgbench's empty filler as an INSERT of '' stores it
    const c = await connectClient(sp.url());
    try {
      await c.query("CREATE TABLE filler_ref (f char(84)); INSERT INTO filler_ref VALUES ('')");
    } finally {
      await c.end();
    }
    const filler = onFile((db) => db.prepare('SELECT (SELECT quote(filler) FROM pgbench_accounts WHERE aid = 1), (SELECT quote(f) FROM filler_ref)').raw().get() as string[]);
    expect(filler[0]).toBe(filler[1]);

    const perClient = 60;
    const clients = 4;
    const writes: number[] = [];
    // without -n pgbench first runs VACUUM pgbench_branches/tellers and TRUNCATE pgbench_history (history is still
    // empty, so the balance check below holds); it only warns when those fail, so its stderr is the evidence
    const first = await pgbench(['-M', 'simple', '-c', String(clients), '-j', '2', '-t', String(perClient)]);
    expect(first.stderr).not.toContain('ignoring this error');
    expect([first.processed, first.failed]).toEqual([clients * perClient, 0]);
    writes.push(first.processed);
    for (const mode of ['simple', 'extended', 'prepared']) {
      for (const script of [['-S'], ['-N'], []]) {
        const label = `${mode} ${script[0] ?? 'tpcb-like'}`;
        const r = await pgbench(['-n', ...script, '-M', mode, '-c', String(clients), '-j', '2', '-t', String(perClient)]);
        expect([r.processed, r.failed], label).toEqual([clients * perClient, 0]);
        if (script[0] !== '-S') writes.push(r.processed);
      }
    }

    // pgbench's own invariant: every delta is in history and in its account, and tpcb-like moved teller and branch together
    const sums = onFile((db) => db.prepare(`SELECT
        (SELECT count(*) FROM pgbench_history),
        (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(delta) FROM pgbench_history),
        (SELECT sum(tbalance) FROM pgbench_tellers) = (SELECT sum(bbalance) FROM pgbench_branches),
        (SELECT count(*) FROM pgbench_accounts a LEFT JOIN (SELECT aid, sum(delta) AS s FROM pgbench_history GROUP BY aid) h
          ON h.aid = a.aid WHERE a.abalance <> coalesce(h.s, 0)),
        (SELECT count(*) FROM pgbench_accounts)`).raw().get());
    expect(sums).toEqual([writes.reduce((a, b) => a + b, 0), 1, 1, 0, 100000]);
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------

describe('DDL pgbench -i sends', () => {
  it('DROP TABLE and TRUNCATE of several tables: all or nothing, one CommandComplete', async () => {
    const c = await connectClient(sp.url());
    try {
      await c.query('CREATE TABLE d1 (id int PRIMARY KEY); CREATE TABLE d2 (id int PRIMARY KEY); CREATE TABLE d3 (id int PRIMARY KEY)');
      await c.query('INSERT INTO d1 VALUES (1); INSERT INTO d2 VALUES (2); INSERT INTO d3 VALUES (3)');
      const counts = async () => (await rows(c, 'SELECT (SELECT count(*) FROM d1), (SELECT count(*) FROM d2), (SELECT count(*) FROM d3)'))[0];

      // PostgreSQL words it 'table "nosuch" does not exist'; the engine's DROP of one missing table already says
      // "relation", a difference of its own, so either wording is taken here
      await expect(c.query('DROP TABLE d1, nosuch, d2')).rejects.toMatchObject({ code: '42P01', message: expect.stringMatching(/^(table|relation) "nosuch" does not exist$/) });
      await expect(c.query('TRUNCATE d1, nosuch')).rejects.toMatchObject({ code: '42P01', message: 'relation "nosuch" does not exist' });
      expect(await counts()).toEqual(['1', '1', '1']);

      // one statement, one result: a CommandComplete per table would come back as an array
      const truncated = await c.query('TRUNCATE TABLE d1, d2');
      expect(Array.isArray(truncated)).toBe(false);
      expect(truncated.command).toBe('TRUNCATE');
      expect(await counts()).toEqual(['0', '0', '1']);
      // TRUNCATE is transactional in PostgreSQL
      await c.query('BEGIN');
      await c.query('TRUNCATE d2, d3');
      await c.query('ROLLBACK');
      expect(await counts()).toEqual(['0', '0', '1']);

      const dropped = await c.query('DROP TABLE IF EXISTS d1, nosuch, d2');
      expect(Array.isArray(dropped)).toBe(false);
      expect(dropped.command).toBe('DROP');
      await expect(c.query('SELECT * FROM d1')).rejects.toMatchObject({ code: '42P01' });
      await expect(c.query('SELECT * FROM d2')).rejects.toMatchObject({ code: '42P01' });
      expect(await rows(c, 'SELECT id FROM d3')).toEqual([['3']]);
      expect(onFile((db) => db.prepare("SELECT name FROM sqlite_schema WHERE name IN ('d1', 'd2', 'd3')").pluck().all())).toEqual(['d3']);
    } finally {
      await c.end();
    }
  });

  it('CREATE TABLE … WITH (fillfactor=100); an unknown storage parameter is 22023; VACUUM [ANALYZE] and ANALYZE, VACUUM in a block 25001', async () => {
    const c = await connectClient(sp.url());
    try {
      expect((await c.query('CREATE TABLE wf (id int NOT NULL, v text) WITH (fillfactor=100)')).command).toBe('CREATE');
      await c.query("INSERT INTO wf VALUES (1, 'one')");
      expect(await rows(c, 'SELECT id, v FROM wf')).toEqual([['1', 'one']]);
      await expect(c.query('CREATE TABLE wf2 (id int) WITH (nosuch=1)')).rejects.toMatchObject({ code: '22023', message: 'unrecognized parameter "nosuch"' });
      await expect(c.query('SELECT * FROM wf2')).rejects.toMatchObject({ code: '42P01' });

      expect((await c.query('VACUUM wf')).command).toBe('VACUUM');
      expect((await c.query('VACUUM ANALYZE wf')).command).toBe('VACUUM');
      expect((await c.query('ANALYZE wf')).command).toBe('ANALYZE');
      await c.query('BEGIN');
      await expect(c.query('VACUUM wf')).rejects.toMatchObject({ code: '25001', message: 'VACUUM cannot run inside a transaction block' });
      // the failed statement aborted the block, as any error does in PostgreSQL
      await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
      await c.query('ROLLBACK');
      await c.query('BEGIN');
      expect((await c.query('ANALYZE wf')).command).toBe('ANALYZE');
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
  });

  it('ALTER TABLE ADD PRIMARY KEY / ADD CONSTRAINT … PRIMARY KEY / ADD UNIQUE: NULLs 23502, duplicates 23505, the rebuilt table keeps the rest', async () => {
    const c = await connectClient(sp.url());
    try {
      // an integer CHECK: one comparing with a string literal is refused by CREATE TABLE itself (SQLite's
      // "parameters prohibited in CHECK constraints", 42000), a problem of its own that this case is not about
      await c.query("CREATE TABLE ap (a int, b text, note text DEFAULT 'dflt', q int DEFAULT 0 CHECK (q >= 0))");
      await c.query('CREATE INDEX ap_note ON ap (note)');
      await c.query("INSERT INTO ap (a, b) VALUES (1, 'x'), (NULL, 'y')");
      await expect(c.query('ALTER TABLE ap ADD PRIMARY KEY (a)')).rejects.toMatchObject({ code: '23502', message: 'column "a" of relation "ap" contains null values' });
      await c.query('UPDATE ap SET a = 1 WHERE a IS NULL');
      await expect(c.query('ALTER TABLE ap ADD PRIMARY KEY (a)')).rejects.toMatchObject({ code: '23505', message: 'could not create unique index "ap_pkey"' });
      expect(onFile((db) => keyColumns(db, 'ap'))).toEqual([]);
      await c.query("UPDATE ap SET a = 2 WHERE b = 'y'");

      expect((await c.query('ALTER TABLE ap ADD PRIMARY KEY (a)')).command).toBe('ALTER');
      const after = onFile((db) => ({
        keys: keyColumns(db, 'ap'),
        indexes: db.prepare("SELECT name FROM pragma_index_list('ap') WHERE origin = 'c'").pluck().all(),
      }));
      expect(after).toEqual({ keys: ['a'], indexes: ['ap_note'] });
      expect(await rows(c, 'SELECT a, b, note FROM ap ORDER BY a')).toEqual([['1', 'x', 'dflt'], ['2', 'y', 'dflt']]);
      await expect(c.query("INSERT INTO ap (a, b) VALUES (1, 'again')")).rejects.toMatchObject({ code: '23505', message: 'duplicate key value violates unique constraint "ap_pkey"' });
      // a key column is NOT NULL in PostgreSQL (SQLite's non-integer keys would take NULLs)
      await expect(c.query("INSERT INTO ap (a, b) VALUES (NULL, 'no key')")).rejects.toMatchObject({ code: '23502' });
      expect(await rows(c, "INSERT INTO ap (a, b) VALUES (3, 'z') RETURNING note")).toEqual([['dflt']]);
      await expect(c.query("INSERT INTO ap (a, b, q) VALUES (4, 'w', -1)")).rejects.toMatchObject({ code: '23514', message: 'new row for relation "ap" violates check constraint "ap_q_check"' });

      // rebuilding a parent must not cascade into its children (SQLite's DROP TABLE deletes its rows first)
      await c.query('CREATE TABLE ap_child (id int PRIMARY KEY, a int REFERENCES ap (a) ON DELETE CASCADE)');
      await c.query('INSERT INTO ap_child VALUES (10, 1)');
      await c.query("INSERT INTO ap (a, b) VALUES (5, 'x')");
      await expect(c.query('ALTER TABLE ap ADD UNIQUE (b)')).rejects.toMatchObject({ code: '23505', message: 'could not create unique index "ap_b_key"' });
      await c.query('DELETE FROM ap WHERE a = 5');
      expect((await c.query('ALTER TABLE ap ADD UNIQUE (b)')).command).toBe('ALTER');
      await expect(c.query("INSERT INTO ap (a, b) VALUES (6, 'x')")).rejects.toMatchObject({ code: '23505', message: 'duplicate key value violates unique constraint "ap_b_key"' });
      expect(await rows(c, 'SELECT id, a FROM ap_child')).toEqual([['10', '1']]);
      expect(await rows(c, 'SELECT a, b FROM ap ORDER BY a')).toEqual([['1', 'x'], ['2', 'y'], ['3', 'z']]);

      await c.query('CREATE TABLE ac (x int, y int, v text)');
      await c.query("INSERT INTO ac VALUES (1, 1, 'a'), (1, 2, 'b')");
      expect((await c.query('ALTER TABLE ac ADD CONSTRAINT ac_xy PRIMARY KEY (x, y)')).command).toBe('ALTER');
      expect(onFile((db) => keyColumns(db, 'ac'))).toEqual(['x', 'y']);
      // the primary key goes by the name the schema copy gives it on the new database (t_pkey, as every
      // SQLite primary key does), so the application sees the same name before and after the promote
      await expect(c.query("INSERT INTO ac VALUES (1, 2, 'c')")).rejects.toMatchObject({ code: '23505', message: 'duplicate key value violates unique constraint "ac_pkey"' });
      await expect(c.query("INSERT INTO ac VALUES (2, NULL, 'no key')")).rejects.toMatchObject({ code: '23502' });
      expect(await rows(c, 'SELECT x, y, v FROM ac ORDER BY y')).toEqual([['1', '1', 'a'], ['1', '2', 'b']]);
    } finally {
      await c.end();
    }
  });
});

// ---------------------------------------------------------------------------------------------

const CT = `CREATE TABLE ct (id int PRIMARY KEY, n bigint, amount numeric(10,2), ok boolean, ratio double precision, day date,
  at timestamp, bin bytea, body text, note text, src text DEFAULT 'by default')`;
const N = String.raw`\N`;
// text format: \N is NULL, backslash escapes (\t \n \r \\ octal \101, hex \x42, any other \q is q), an empty field is ''
const CT_TEXT = [
  ['1', '42', '12.345', 't', '0.1', '2024-02-29', '2024-01-02 03:04:05.5', String.raw`\\x00ff5c`, 'plain', N],
  ['2', '-9007199254740993', '-0.005', 'false', '1e300', '2024-01-01', '2024-01-02 00:00:00', String.raw`\\x`, String.raw`tab\there`, String.raw`back\\slash`],
  ['3', N, N, N, N, N, N, N, String.raw`line\nbreak\r`, 'ünïcødé €😀'],
  ['4', '7', '0', 'yes', '-Infinity', '1999-12-31', '1999-12-31 23:59:59.999999', String.raw`\\x41`, String.raw`\101\x42\103\q`, ''],
].map((r) => r.join('\t') + '\n').join('');
// DELIMITER '|', NULL 'NULL': \| is a literal bar, and \N is then no longer NULL but "N"
const CT_PIPE = ['10|pipe \\| inside|NULL', '11||', '12|\\N|x'].map((l) => l + '\n').join('');
const CT_WANT = [
  ['1', '42', '12.35', 't', '0.1', '2024-02-29', '2024-01-02 03:04:05.5', '\\x00ff5c', 'plain', null, 'by default'],
  ['2', '-9007199254740993', '-0.01', 'f', '1e+300', '2024-01-01', '2024-01-02 00:00:00', '\\x', 'tab\there', 'back\\slash', 'by default'],
  ['3', null, null, null, null, null, null, null, 'line\nbreak\r', 'ünïcødé €😀', 'by default'],
  ['4', '7', '0.00', 't', '-Infinity', '1999-12-31', '1999-12-31 23:59:59.999999', '\\x41', 'ABCq', '', 'by default'],
  ['10', null, null, null, null, null, null, null, 'pipe | inside', null, 'by default'],
  ['11', null, null, null, null, null, null, null, '', '', 'by default'],
  ['12', null, null, null, null, null, null, null, 'N', 'x', 'by default'],
];

const CSV_HEADER = 'id,name,qty,note\n1,"Smith, John",3,"He said ""hi"""\n2,"multi\nline",,""\n3,plain,-4,\n4,"ünï ""€""",0,a\\b\n';
const CSV_SEMI = "5;'it\\'s';1;NA\n6;'semi;colon';2;'NA'\n";
const CV_WANT = [
  ['1', 'Smith, John', '3', 'He said "hi"'],
  ['2', 'multi\nline', null, ''],
  ['3', 'plain', '-4', null],
  ['4', 'ünï "€"', '0', 'a\\b'],
  ['5', "it's", '1', null],
  ['6', 'semi;colon', '2', 'NA'],
];

// 20 000 rows of multi-byte text cut into pieces of 1 to 300 bytes, some cuts inside a character or an escape
const BIG: (string | null)[][] = Array.from({ length: 20000 }, (_, i) => {
  const id = i + 1;
  const body = `ряд ${id} € ${'😀'.repeat(id % 3)}${id % 10 === 0 ? '\ttab \\ back\nnewline, "quoted"' : ''}`;
  return [String(id), id % 13 === 0 ? '' : body, id % 7 === 0 ? null : `n${id % 97}`];
});
const BIG_TEXT = Buffer.from(BIG.map((r) => r.map(textField).join('\t') + '\n').join(''));
const BIG_CSV = Buffer.from('id,body,note\n' + BIG.map((r) => `${r[0]},${csvField(r[1] ?? null)},${csvField(r[2] ?? null)}\n`).join(''));
const cutsOf = (data: Buffer, seed: number) =>
  cutAt(data, [...randomOffsets(data.length, seed, 300), ...insideEach(data, '😀', 3), ...insideEach(data, '€', 3), ...insideEach(data, 'я', 2),
    ...insideEach(data, '\\t', 2), ...insideEach(data, '""', 2), ...insideEach(data, '\n"', 2)]);

describe('COPY … FROM STDIN', () => {
  it('psql \\copy: text (escapes, NULL, DELIMITER, NULL string, column list with defaults) and csv (HEADER, quotes, embedded delimiter and newline, QUOTE, ESCAPE)', async () => {
    const c = await connectClient(sp.url());
    try {
      await c.query(CT);
      await c.query('CREATE TABLE cv (id int PRIMARY KEY, name text, qty int, note text)');
      const out = await psqlScript([
        `\\copy ct (id, n, amount, ok, ratio, day, at, bin, body, note) from '${dataFile('ct.tsv', CT_TEXT)}'`,
        `\\copy ct (id, body, note) from '${dataFile('ct.pipe', CT_PIPE)}' with (delimiter '|', null 'NULL')`,
        `\\copy cv from '${dataFile('cv.csv', CSV_HEADER)}' with (format csv, header)`,
        `\\copy cv from '${dataFile('cv.semi', CSV_SEMI)}' with (format csv, delimiter ';', quote '''', escape '\\', null 'NA')`,
      ].join('\n') + '\n');
      expect(out.stderr).toBe('');
      expect(out.stdout.trim().split('\n')).toEqual(['COPY 4', 'COPY 3', 'COPY 4', 'COPY 2']);
      expect(await rows(c, 'SELECT * FROM ct ORDER BY id')).toEqual(CT_WANT);
      expect(await rows(c, 'SELECT * FROM cv ORDER BY id')).toEqual(CV_WANT);

      // what COPY stored is what an INSERT of the same values stores: storage classes and spellings in the file
      await c.query(`INSERT INTO ct (id, n, amount, ok, ratio, day, at, bin, body, note) VALUES
        (101, 42, 12.345, true, 0.1, '2024-02-29', '2024-01-02 03:04:05.5', '\\x00ff5c'::bytea, 'plain', NULL),
        (102, -9007199254740993, -0.005, false, 1e300, '2024-01-01', '2024-01-02 00:00:00', '\\x'::bytea, E'tab\\there', 'back\\slash'),
        (104, 7, 0, true, '-Infinity'::float8, '1999-12-31', '1999-12-31 23:59:59.999999', '\\x41'::bytea, 'ABCq', '')`);
      const stored = onFile((db) => db.prepare(`SELECT id, quote(n), quote(amount), quote(ok), quote(ratio), quote(day), quote(at), quote(bin),
        quote(body), quote(note), quote(src) FROM ct WHERE id IN (1, 2, 4, 101, 102, 104) ORDER BY id`).raw().all() as unknown[][]);
      expect(stored.map((r) => r[0])).toEqual([1, 2, 4, 101, 102, 104]);
      const [copied, inserted] = [stored.slice(0, 3), stored.slice(3)];
      expect(copied.map((r) => r.slice(1))).toEqual(inserted.map((r) => r.slice(1)));
    } finally {
      await c.end();
    }
  });

  const SEED = [['1', '1', 'seeded'], ['2', '2', 'seeded'], ['3', '3', 'seeded']];
  // many good rows first: the bad one arrives after several CopyData messages the engine has already taken
  const GOOD = Array.from({ length: 3000 }, (_, i) => `${1000 + i}\t${i}\tok ${i}\n`).join('');
  const pieces = (data: string) => cutAt(Buffer.from(data), randomOffsets(Buffer.byteLength(data), 7, 1500));

  describe('errors leave the table as it was and the session usable', () => {
    beforeAll(async () => {
      await withClient(async (c) => {
        await c.query('CREATE TABLE ce (id int PRIMARY KEY, n int NOT NULL, note text)');
        await c.query("INSERT INTO ce VALUES (1, 1, 'seeded'), (2, 2, 'seeded'), (3, 3, 'seeded')");
      });
    });

    it.each([
      { name: 'a row missing a column', data: GOOD + '9000\t1\n', code: '22P04', message: 'missing data for column "note"' },
      { name: 'a row with a column too many', data: GOOD + '9000\t1\tx\ty\n', code: '22P04', message: 'extra data after last expected column' },
      { name: 'a bad integer', data: GOOD + '9000\tx1\tbad\n', code: '22P02', message: /^invalid input syntax for type (integer|bigint): "x1"$/ },
      { name: 'NULL into NOT NULL', data: GOOD + '9000\t\\N\tnull\n', code: '23502', message: 'null value in column "n" of relation "ce" violates not-null constraint' },
      { name: 'a key twice in the data', data: GOOD + '1000\t0\tagain\n', code: '23505', message: 'duplicate key value violates unique constraint "ce_pkey"' },
      { name: 'a key already in the table', data: '2\t2\tagain\n' + GOOD, code: '23505', message: 'duplicate key value violates unique constraint "ce_pkey"' },
    ])('pg-copy-streams, $name: $code', ({ data, code, message }) => withClient(async (c) => {
      const copy = pipeline(Readable.from(pieces(data)), c.query(copyFrom('COPY ce FROM STDIN')));
      const err = await within('the failing COPY', copy.then(() => null, (e: unknown) => e));
      expect(err).toMatchObject({ code });
      if (typeof message === 'string') expect((err as Error).message).toBe(message);
      else expect((err as Error).message).toMatch(message);
      expect(await within('the query after it', rows(c, 'SELECT * FROM ce ORDER BY id'))).toEqual(SEED);
      await expectWriteLockFree();
    }));

    it('a COPY naming a missing table or column fails before any data (42P01, 42703)', () => withClient(async (c) => {
      await expect(within('COPY nosuch', pipeline(Readable.from(['1\n']), c.query(copyFrom('COPY nosuch FROM STDIN'))))).rejects.toMatchObject({
        code: '42P01', message: 'relation "nosuch" does not exist',
      });
      await expect(within('COPY ce (nosuch)', pipeline(Readable.from(['1\n']), c.query(copyFrom('COPY ce (nosuch) FROM STDIN'))))).rejects.toMatchObject({
        code: '42703', message: 'column "nosuch" of relation "ce" does not exist',
      });
      expect(await within('the query after it', rows(c, 'SELECT * FROM ce ORDER BY id'))).toEqual(SEED);
    }));

    it('pg-copy-streams destroy(): CopyFail ends the COPY with 57014 and nothing written', () => withClient(async (c) => {
      const stream = c.query(copyFrom('COPY ce FROM STDIN'));
      // listened to from the start: a refused COPY errs before any CopyInResponse
      const errored = new Promise<unknown>((resolve) => stream.once('error', resolve));
      // the write's callback runs once CopyInResponse came and the rows went out as CopyData
      const sent = new Promise<void>((resolve) => stream.write(GOOD, () => resolve()));
      expect(await within('CopyInResponse', Promise.race([sent.then(() => 'sent'), errored]))).toBe('sent');
      stream.destroy(new Error('client gave up'));
      expect(await within('the answer to CopyFail', errored)).toMatchObject({ code: '57014', message: 'COPY from stdin failed: client gave up' });
      expect(await within('the query after it', rows(c, 'SELECT * FROM ce ORDER BY id'))).toEqual(SEED);
      await expectWriteLockFree();
    }));

    it('postgres.js: a bad value mid-stream and a destroyed writable (CopyFail) write nothing; the connection goes on', async () => {
      const sql = postgres(sp.url(), { max: 1, onnotice: () => undefined });
      try {
        // postgres.js reports a COPY error only while its writable is open (after end() it drops the stream and waits
        // for a CommandComplete that never comes, against PostgreSQL too): the error must come without a CopyDone,
        // as PostgreSQL sends it, at the bad row
        const w = await within('postgres.js writable()', sql`COPY ce FROM STDIN`.writable());
        const failed = new Promise<unknown>((resolve) => w.once('error', resolve));
        for (const piece of pieces(GOOD + '9000\tx1\tbad\n')) w.write(piece);
        expect(await within('the error for the bad row, before any CopyDone', failed)).toMatchObject({ code: '22P02' });
        expect(await within('the query after it', sql`SELECT count(*)::int AS n FROM ce`)).toEqual([{ n: 3 }]);

        const w2 = await within('postgres.js writable()', sql`COPY ce FROM STDIN`.writable());
        // postgres.js hands the destroy reason back as an 'error' event before 'close'
        w2.on('error', () => undefined);
        const closed = new Promise<void>((resolve) => w2.once('close', () => resolve()));
        await within('CopyData written', new Promise<void>((resolve, reject) => w2.write(GOOD, (e) => (e ? reject(e) : resolve()))));
        w2.destroy(new Error('client gave up'));
        await closed;
        // the same connection (max: 1) answers next: ErrorResponse and ReadyForQuery came for the CopyFail
        expect(await within('the query after CopyFail', sql`SELECT count(*)::int AS n FROM ce`)).toEqual([{ n: 3 }]);
      } finally {
        await sql.end({ timeout: 2 });
      }
      await withClient(async (c) => expect(await rows(c, 'SELECT * FROM ce ORDER BY id')).toEqual(SEED));
      await expectWriteLockFree();
    });

    it('psql \\copy of a bad file: the error with its SQLSTATE, then the next statement of the script runs', async () => {
      const out = await psqlScript(`\\copy ce from '${dataFile('ce-bad.tsv', GOOD + '9000\t1\n')}'\nSELECT count(*) FROM ce;\n`, { stopOnError: false });
      expect(out.stderr).toContain('ERROR:  22P04: missing data for column "note"');
      expect(out.stdout.trim()).toBe('3');
      await withClient(async (c) => expect(await rows(c, 'SELECT * FROM ce ORDER BY id')).toEqual(SEED));
    });

    it('inside a transaction block: a failed COPY aborts the block (25P02 after it), a good one is undone by ROLLBACK', () => withClient(async (c) => {
      await c.query('BEGIN');
      await c.query("INSERT INTO ce VALUES (50, 50, 'in the block')");
      await expect(within('the failing COPY', pipeline(Readable.from(pieces(GOOD + '9000\tx1\tbad\n')), c.query(copyFrom('COPY ce FROM STDIN'))))).rejects.toMatchObject({ code: '22P02' });
      await expect(within('the query after it', c.query('SELECT 1'))).rejects.toMatchObject({ code: '25P02' });
      await within('ROLLBACK', c.query('ROLLBACK'));
      expect(await within('the query after it', rows(c, 'SELECT * FROM ce ORDER BY id'))).toEqual(SEED);

      await c.query('BEGIN');
      const copy = c.query(copyFrom('COPY ce FROM STDIN'));
      await within('COPY in the block', pipeline(Readable.from(pieces(GOOD)), copy));
      expect(copy.rowCount).toBe(3000);
      expect(await rows(c, 'SELECT count(*) FROM ce')).toEqual([['3003']]);
      await c.query('ROLLBACK');
      expect(await rows(c, 'SELECT * FROM ce ORDER BY id')).toEqual(SEED);
    }));
  });

  it('extended query protocol (libpq PQexecParams: Parse/Bind/Describe/Execute/Sync, the data, CopyDone or CopyFail, Sync)', async () => {
    const c = await connectClient(sp.url());
    try {
      await c.query('CREATE TABLE cx (id int PRIMARY KEY, v text)');
      const copyStart = [parse('COPY cx (id, v) FROM STDIN'), bind(), msg('D', 'P'), execute(), sync()];
      const done = await exchangeAfterLogin(sp.url(), [...copyStart, msg('d', Buffer.from('1\tone\n2\tt')), msg('d', Buffer.from('wo\n')), msg('c'), sync()], 1);
      expect(done).toBe('1 2 n G C:COPY 2 Z:I');
      // a bad row: the error, then messages are skipped up to the Sync after the COPY
      const bad = await exchangeAfterLogin(sp.url(), [...copyStart, msg('d', Buffer.from('3\tthree\n4\n')), msg('c'), sync(), msg('Q', 'SELECT count(*) FROM cx')], 2);
      expect(bad).toBe('1 2 n G E:22P04:ERROR Z:I T D:2 C:SELECT 1 Z:I');
      const failed = await exchangeAfterLogin(sp.url(), [...copyStart, msg('d', Buffer.from('5\tfive\n')), msg('f', 'client gave up'), sync(), msg('Q', 'SELECT count(*) FROM cx')], 2);
      expect(failed).toBe('1 2 n G E:57014:ERROR Z:I T D:2 C:SELECT 1 Z:I');
      expect(await rows(c, 'SELECT id, v FROM cx ORDER BY id')).toEqual([['1', 'one'], ['2', 'two']]);
    } finally {
      await c.end();
    }
  });

  it('node-postgres + pg-copy-streams: 20 000 text rows over thousands of CopyData messages cut anywhere', async () => {
    const messages = cutsOf(BIG_TEXT, 11);
    expect(messages.length).toBeGreaterThan(2000);
    expect(messages.filter(startsMidCharacter).length).toBeGreaterThanOrEqual(6);
    const c = await connectClient(sp.url());
    try {
      await c.query('CREATE TABLE big (id int PRIMARY KEY, body text, note text)');
      const copy = c.query(copyFrom('COPY big FROM STDIN'));
      await within('the big COPY', pipeline(Readable.from(messages), copy), 20_000);
      expect(copy.rowCount).toBe(20000);
      const back = await rows(c, 'SELECT id, body, note FROM big ORDER BY id');
      expect(back.length).toBe(20000);
      expect(firstDifference(back, BIG)).toBeUndefined();
    } finally {
      await c.end();
    }
  }, 40_000);

  it('postgres.js writable: 20 000 csv rows (HEADER, quoted newlines and quotes) over thousands of CopyData messages cut anywhere', async () => {
    const messages = cutsOf(BIG_CSV, 23);
    expect(messages.length).toBeGreaterThan(2000);
    expect(messages.filter(startsMidCharacter).length).toBeGreaterThanOrEqual(6);
    const sql = postgres(sp.url(), { max: 1, onnotice: () => undefined });
    const c = await connectClient(sp.url());
    try {
      await sql`CREATE TABLE bigcsv (id int PRIMARY KEY, body text, note text)`;
      const w = await within('postgres.js writable()', sql`COPY bigcsv FROM STDIN WITH (FORMAT csv, HEADER)`.writable());
      await within('the big COPY', pipeline(Readable.from(messages), w), 20_000);
      const back = await rows(c, 'SELECT id, body, note FROM bigcsv ORDER BY id');
      expect(back.length).toBe(20000);
      expect(firstDifference(back, BIG)).toBeUndefined();
    } finally {
      await c.end();
      await sql.end({ timeout: 2 });
    }
  }, 40_000);
});

// ---------------------------------------------------------------------------------------------

// rows written by INSERT, so these need only COPY … TO
const TT_ROWS: unknown[][] = [
  [1, 'plain', '42', true, '12.5', Buffer.from([0x00, 0xff])],
  [2, 'tab\there', null, false, null, Buffer.alloc(0)],
  [3, 'line\nbreak\r and back\\slash', '-9007199254740993', null, '-0.01', null],
  [4, 'ünïcødé €😀, "quoted"', '0', true, '0', Buffer.from('A')],
  [5, '', null, null, null, null],
];
const TT_TEXT = [
  ['1', 'plain', '42', 't', '12.50', String.raw`\\x00ff`],
  ['2', String.raw`tab\there`, N, 'f', N, String.raw`\\x`],
  ['3', String.raw`line\nbreak\r and back\\slash`, '-9007199254740993', N, '-0.01', N],
  ['4', 'ünïcødé €😀, "quoted"', '0', 't', '0.00', String.raw`\\x41`],
  ['5', '', N, N, N, N],
].map((r) => r.join('\t') + '\n').join('');
const TT_CSV = 'id,body,n\n1,plain,42\n2,tab\there,\n3,"line\nbreak\r and back\\slash",-9007199254740993\n4,"ünïcødé €😀, ""quoted""",0\n5,"",\n';

describe('[COPY TO] COPY … TO STDOUT', () => {
  beforeAll(async () => {
    const c = await connectClient(sp.url());
    try {
      await c.query('CREATE TABLE tt (id int PRIMARY KEY, body text, n bigint, ok boolean, amount numeric(10,2), bin bytea)');
      for (const r of TT_ROWS) await c.query('INSERT INTO tt VALUES ($1, $2, $3, $4, $5, $6)', r);
    } finally {
      await c.end();
    }
  });

  it('[COPY TO] psql \\copy … to stdout: a table in text, a query in csv with HEADER', async () => {
    const out = await psqlScript(`\\copy tt to stdout\n\\copy (SELECT id, body, n FROM tt ORDER BY id) to stdout with (format csv, header)\n`);
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe(TT_TEXT + TT_CSV);
  });

  it('[COPY TO] pg-copy-streams and postgres.js readable(); errors before and during the COPY', async () => {
    const c = await connectClient(sp.url());
    const sql = postgres(sp.url(), { max: 1, onnotice: () => undefined });
    try {
      const chunks: Buffer[] = [];
      await within('COPY TO', pipeline(c.query(copyTo('COPY (SELECT * FROM tt ORDER BY id) TO STDOUT')), new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      })));
      expect(Buffer.concat(chunks).toString()).toBe(TT_TEXT);

      const readable = await within('postgres.js readable()', sql`COPY (SELECT id, body, n FROM tt ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)`.readable());
      const csv: Buffer[] = [];
      for await (const chunk of readable) csv.push(chunk as Buffer);
      expect(Buffer.concat(csv).toString()).toBe(TT_CSV);

      const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
      await expect(within('COPY TO of a missing table', pipeline(c.query(copyTo('COPY nosuch TO STDOUT')), sink()))).rejects.toMatchObject({ code: '42P01' });
      await expect(within('COPY TO that fails mid-query', pipeline(c.query(copyTo('COPY (SELECT 1 / (id - 3) FROM tt ORDER BY id) TO STDOUT')), sink()))).rejects.toMatchObject({ code: '22012' });
      expect(await rows(c, 'SELECT count(*) FROM tt')).toEqual([['5']]);
    } finally {
      await c.end();
      await sql.end({ timeout: 2 });
    }
  });

  it('[COPY TO] round trip: 20 000 rows in by COPY FROM, out by COPY TO, byte for byte (text and csv)', async () => {
    const c = await connectClient(sp.url());
    try {
      await c.query('CREATE TABLE rt (id int PRIMARY KEY, body text, note text)');
      await within('COPY FROM', pipeline(Readable.from(cutAt(BIG_TEXT, randomOffsets(BIG_TEXT.length, 5, 4000))), c.query(copyFrom('COPY rt FROM STDIN'))), 20_000);
      const read = async (text: string) => {
        const chunks: Buffer[] = [];
        await within(text, pipeline(c.query(copyTo(text)), new Writable({
          write(chunk: Buffer, _enc, cb) {
            chunks.push(chunk);
            cb();
          },
        })), 20_000);
        return Buffer.concat(chunks);
      };
      // a table's own order is no promise (PostgreSQL's heap is not insertion order): its lines as a set, then a query's bytes
      const lines = (b: Buffer) => b.toString().split('\n').sort();
      const table = await read('COPY rt TO STDOUT');
      expect(table.length).toBe(BIG_TEXT.length);
      expect(firstDifference(lines(table).map((l) => [l]), lines(BIG_TEXT).map((l) => [l]))).toBeUndefined();
      const text = await read('COPY (SELECT * FROM rt ORDER BY id) TO STDOUT');
      expect(text.equals(BIG_TEXT)).toBe(true);
      const csv = await read('COPY (SELECT * FROM rt ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER, FORCE_QUOTE (body, note))');
      // FORCE_QUOTE quotes every non-NULL body and note, as csvField does: the same bytes as the csv this file writes
      expect(csv.equals(BIG_CSV)).toBe(true);
    } finally {
      await c.end();
    }
  }, 40_000);
});
