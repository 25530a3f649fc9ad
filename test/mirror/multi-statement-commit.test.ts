// A COMMIT that shares its request with other statements (psql -c "BEGIN; …;
// COMMIT", a multi-statement string, or an extended segment with COMMIT before
// its Sync) must reach the client only after its transaction's changes are on
// the target, like a COMMIT of its own. The background drainer is switched off
// here, so a row on the target right after the client's answer can only have
// come from the proxy's drain-and-apply before that answer. The answers must be
// the ones PostgreSQL gives for the same request (compared with a direct
// session on a plain database).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair, proxyWithoutDrainer } from './mirrored-pair.ts';
import { bindMessage, EXECUTE, parseErrorFields, parseMessage, queryMessage, SYNC } from '../../proxy/messages.ts';

const run = promisify(execFile);
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('multi_statement_commit', 'CREATE TABLE t (id int PRIMARY KEY, v text)');
  tp = await proxyWithoutDrainer(pair);
});
afterAll(async () => {
  await tp?.close();
});

async function ids(url: string, from: number, to: number): Promise<number[]> {
  const r = await sql(url, 'SELECT id FROM t WHERE id BETWEEN $1 AND $2 ORDER BY id', [from, to]);
  return r.rows.map((x: { id: number }) => x.id);
}

async function onBoth(from: number, to: number): Promise<{ source: number[]; target: number[] }> {
  return { source: await ids(pair.legacyUrl, from, to), target: await ids(pair.targetUrl, from, to) };
}

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  return c;
}

describe('simple protocol: COMMIT inside a multi-statement Query', () => {
  it('psql -c "BEGIN; INSERT …; COMMIT": on the target when psql returns, no warning', async () => {
    const psql = path.join(inject('legacy').binDir!, 'psql');
    const env = { ...process.env, PGPASSWORD: 'postgres' };
    const { stderr } = await run(psql, ['-X', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(tp.port), '-U', 'postgres', '-d', pair.name, '-c', `BEGIN; INSERT INTO t VALUES (1, 'a'); INSERT INTO t VALUES (2, 'b'); COMMIT`], { env });
    expect(await onBoth(1, 2)).toEqual({ source: [1, 2], target: [1, 2] });
    expect(stderr).toBe('');
  });

  it('node-postgres: "INSERT …; COMMIT" inside a transaction, "BEGIN; INSERT …; COMMIT" and "INSERT …; COMMIT" outside', async () => {
    const c = await client();
    const notices: string[] = [];
    c.on('notice', (n) => notices.push(`${n.code} ${n.message}`));
    try {
      await c.query('BEGIN');
      await c.query(`INSERT INTO t VALUES (10, 'x')`);
      await c.query(`INSERT INTO t VALUES (11, 'x'); COMMIT`);
      expect(await onBoth(10, 11)).toEqual({ source: [10, 11], target: [10, 11] });
      const r = (await c.query(`BEGIN; INSERT INTO t VALUES (12, 'x'); COMMIT`)) as unknown as pg.QueryResult[];
      expect(r.map((x) => x.command)).toEqual(['BEGIN', 'INSERT', 'COMMIT']);
      expect(await onBoth(12, 12)).toEqual({ source: [12], target: [12] });
      await c.query(`INSERT INTO t VALUES (13, 'x'); COMMIT`);
      expect(await onBoth(13, 13)).toEqual({ source: [13], target: [13] });
      // PostgreSQL's warning for a COMMIT ending its implicit transaction
      expect(notices.splice(0)).toEqual(['25P01 there is no transaction in progress']);
      // after the COMMIT the rest runs in an implicit transaction of its own, mirrored too
      await c.query(`BEGIN; INSERT INTO t VALUES (14, 'x'); COMMIT; INSERT INTO t VALUES (15, 'x')`);
      expect(await onBoth(14, 15)).toEqual({ source: [14, 15], target: [14, 15] });
      expect(notices).toEqual([]);
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await c.end();
    }
  });

  it('an error in the middle skips the rest and leaves the transaction state PostgreSQL would', async () => {
    const c = await client();
    try {
      // explicit transaction: the error leaves it failed
      await expect(c.query(`BEGIN; INSERT INTO t VALUES (20, 'x'); SELECT 1/0; INSERT INTO t VALUES (21, 'x'); COMMIT`)).rejects.toMatchObject({ code: '22012' });
      await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
      await c.query('ROLLBACK');
      // implicit transaction: the error rolls it back, the session is idle
      await expect(c.query(`INSERT INTO t VALUES (22, 'x'); SELECT 1/0; COMMIT; INSERT INTO t VALUES (23, 'x')`)).rejects.toMatchObject({ code: '22012' });
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      // what was committed before the error stays, and is on the target
      await expect(c.query(`BEGIN; INSERT INTO t VALUES (24, 'x'); COMMIT; INSERT INTO t VALUES (25, 'x'); SELECT 1/0`)).rejects.toMatchObject({ code: '22012' });
      expect(await onBoth(20, 25)).toEqual({ source: [24], target: [24] });
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await c.end();
    }
  });

  it('ROLLBACK and savepoints among the statements', async () => {
    const c = await client();
    try {
      await c.query('BEGIN');
      await c.query(`INSERT INTO t VALUES (30, 'x'); ROLLBACK; INSERT INTO t VALUES (31, 'x')`);
      expect(await onBoth(30, 31)).toEqual({ source: [31], target: [31] });
      await c.query(`BEGIN; INSERT INTO t VALUES (32, 'x'); SAVEPOINT a; INSERT INTO t VALUES (33, 'x'); ROLLBACK TO a; COMMIT`);
      expect(await onBoth(32, 33)).toEqual({ source: [32], target: [32] });
      await c.query(`BEGIN; SAVEPOINT a; INSERT INTO t VALUES (34, 'x'); RELEASE a; COMMIT`);
      expect(await onBoth(34, 34)).toEqual({ source: [34], target: [34] });
    } finally {
      await c.end();
    }
  });

  it('reports an error\'s position in the client\'s string, characters outside the BMP counted as PostgreSQL counts them', async () => {
    // the proxy runs the string in pieces split at its COMMIT: the failing one comes after the emoji
    const text = (id: number) => `BEGIN; INSERT INTO t VALUES (${id}, '😀 🎉 𝄞'); COMMIT; SELECT nosuchcol FROM t`;
    const direct = new pg.Client({ connectionString: pair.legacyUrl });
    await direct.connect();
    const c = await client();
    try {
      const want = await direct.query(text(61)).catch((e: { position?: string }) => e.position);
      expect(Number(want)).toBe([...text(61)].indexOf('n') + 1);
      await sql(pair.legacyUrl, 'DELETE FROM t WHERE id = 61');
      await expect(c.query(text(60))).rejects.toMatchObject({ code: '42703', position: want });
      expect(await onBoth(60, 60)).toEqual({ source: [60], target: [60] });
    } finally {
      await Promise.all([c.end(), direct.end()]);
    }
  });

  it('PREPARE TRANSACTION is refused with 0A000 and rolls the transaction back; DDL among the statements is refused', async () => {
    const c = await client();
    try {
      await c.query('BEGIN');
      await c.query(`INSERT INTO t VALUES (40, 'x')`);
      await expect(c.query(`PREPARE TRANSACTION 'multi_commit_40'`)).rejects.toMatchObject({ code: '0A000' });
      await expect(c.query(`BEGIN; INSERT INTO t VALUES (41, 'x'); PREPARE TRANSACTION 'multi_commit_41'`)).rejects.toMatchObject({ code: '0A000' });
      // idle again, nothing written anywhere
      await c.query(`INSERT INTO t VALUES (42, 'x')`);
      expect(await onBoth(40, 42)).toEqual({ source: [42], target: [42] });
      // a schema change among the statements is refused as on its own
      await expect(c.query(`BEGIN; INSERT INTO t VALUES (43, 'x'); CREATE TABLE u (id int PRIMARY KEY); COMMIT`)).rejects.toMatchObject({ code: '0A000' });
      // the error left the block failed, as PostgreSQL's would: nothing runs until it ends
      await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
      await c.query('ROLLBACK');
      await expect(c.query(`INSERT INTO t VALUES (44, 'x'); CREATE TABLE u (id int PRIMARY KEY); COMMIT`)).rejects.toMatchObject({ code: '0A000' });
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      expect(await onBoth(43, 44)).toEqual({ source: [], target: [] });
      expect((await sql(pair.legacyUrl, `SELECT to_regclass('u') IS NULL AS gone`)).rows).toEqual([{ gone: true }]);
    } finally {
      await c.end();
    }
  });
});

/** A raw session: pg authenticates, then its socket is ours. */
async function rawSession(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  c.on('error', () => undefined);
  const stream = (c as unknown as { connection: { stream: import('node:net').Socket } }).connection.stream;
  stream.removeAllListeners('data');
  let buf = Buffer.alloc(0);
  let waiter: (() => void) | null = null;
  stream.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    waiter?.();
  });
  /** Send bytes; the answer up to ReadyForQuery, one line per message. */
  async function request(bytes: Buffer[]): Promise<string[]> {
    stream.write(Buffer.concat(bytes));
    const out: string[] = [];
    for (;;) {
      while (buf.length >= 5 && buf.length >= 1 + buf.readInt32BE(1)) {
        const type = String.fromCharCode(buf[0]!);
        const len = buf.readInt32BE(1);
        const body = buf.subarray(5, 1 + len);
        buf = buf.subarray(1 + len);
        if (type === 'C') out.push(`C ${body.toString('utf8', 0, body.length - 1)}`);
        else if (type === 'E' || type === 'N') {
          const f = parseErrorFields(body);
          out.push(`${type} ${f.C} ${f.P ?? '-'} ${f.M}`);
        }
        else if (type === 'Z') {
          out.push(`Z ${String.fromCharCode(body[0]!)}`);
          return out;
        } else if (type === 'S') out.push(`S ${body.toString('utf8', 0, body.length - 1).replace('\0', '=')}`);
        else out.push(type);
      }
      await new Promise<void>((r) => (waiter = r));
    }
  }
  /** Send bytes the server answers without a ReadyForQuery (a Flush), and give the answer time to arrive. */
  async function send(bytes: Buffer[]): Promise<void> {
    stream.write(Buffer.concat(bytes));
    await new Promise((r) => setTimeout(r, 100));
  }
  return { request, send, close: () => stream.destroy() };
}

const FLUSH = Buffer.from([0x48, 0, 0, 0, 4]);
const describeStatement = (name: string): Buffer => Buffer.concat([Buffer.from([0x44, 0, 0, 0, 6 + Buffer.byteLength(name), 0x53]), Buffer.from(name + '\0')]);

/** The unnamed statement, bound and executed. */
const exec = (text: string): Buffer[] => [parseMessage('', text), bindMessage('', []), EXECUTE];

/** Each request sequence, the rows (offsets from its first id) committed once its segment is answered. */
const segments: [string, number[], (b: number) => Buffer[][]][] = [
  ['in a transaction', [0], (b) => [[queryMessage('BEGIN')], [...exec(`INSERT INTO t VALUES (${b}, 'x')`), ...exec(`UPDATE t SET v = 'y' WHERE id = ${b}`), ...exec('COMMIT'), SYNC]]],
  ['BEGIN … COMMIT in one segment', [0], (b) => [[...exec('BEGIN'), ...exec(`INSERT INTO t VALUES (${b}, 'x')`), ...exec('COMMIT'), SYNC]]],
  ['no BEGIN', [0, 1], (b) => [[...exec(`INSERT INTO t VALUES (${b}, 'x')`), ...exec('COMMIT'), ...exec(`INSERT INTO t VALUES (${b + 1}, 'x')`), SYNC]]],
  ['an error before COMMIT', [], (b) => [[queryMessage('BEGIN')], [...exec(`INSERT INTO t VALUES (${b}, 'x')`), ...exec('SELECT 1/0'), ...exec('COMMIT'), SYNC], [queryMessage('ROLLBACK')]]],
  ['ROLLBACK, then a write', [1], (b) => [[queryMessage('BEGIN')], [...exec(`INSERT INTO t VALUES (${b}, 'x')`), ...exec('ROLLBACK'), ...exec(`INSERT INTO t VALUES (${b + 1}, 'x')`), SYNC]]],
  ['BEGIN after a write', [0, 1], (b) => [[...exec(`INSERT INTO t VALUES (${b}, 'x')`), ...exec('BEGIN'), ...exec(`INSERT INTO t VALUES (${b + 1}, 'x')`), ...exec('COMMIT'), SYNC]]],
  ['an error without BEGIN', [], (b) => [[...exec(`INSERT INTO t VALUES (${b}, 'x')`), ...exec('SELECT 1/0'), ...exec('COMMIT'), SYNC], [queryMessage('SELECT 1')]]],
  // a Flush before the Sync sends part of the segment ahead (drivers describing a statement first)
  ['COMMIT described first', [0], (b) => [[queryMessage('BEGIN')], [queryMessage(`INSERT INTO t VALUES (${b}, 'x')`)], [parseMessage('', 'COMMIT'), describeStatement(''), FLUSH], [bindMessage('', []), EXECUTE, SYNC]]],
  ['a write, Flush, COMMIT', [0], (b) => [[queryMessage('BEGIN')], [...exec(`INSERT INTO t VALUES (${b}, 'x')`), FLUSH], [...exec('COMMIT'), SYNC]]],
  ['no BEGIN: a write, Flush, COMMIT and a write', [0, 1], (b) => [[...exec(`INSERT INTO t VALUES (${b}, 'x')`), FLUSH], [...exec('COMMIT'), ...exec(`INSERT INTO t VALUES (${b + 1}, 'x')`), SYNC]]],
  ['an error before the Flush', [], (b) => [[queryMessage('BEGIN')], [...exec(`INSERT INTO t VALUES (${b}, 'x')`), ...exec('SELECT 1/0'), FLUSH], [...exec('COMMIT'), SYNC], [queryMessage('ROLLBACK')]]],
  // the part sent first only reads: the write after the Flush reached the target only by the drainer
  ['no BEGIN: a read, Flush, then a write', [0], (b) => [[...exec('SELECT 1'), FLUSH], [...exec(`INSERT INTO t VALUES (${b}, 'x')`), SYNC]]],
  ['no BEGIN: a read, Flush, an error, then a write', [], (b) => [[...exec('SELECT 1/0'), FLUSH], [...exec(`INSERT INTO t VALUES (${b}, 'x')`), SYNC], [queryMessage('SELECT 1')]]],
  // a statement not known after the Flush is no write to wrap: the server refuses it, and the SET before it is undone, unreported
  ['a SET, Flush, then a statement not known', [], (b) => [[parseMessage(`set${b}`, "SET datestyle = 'SQL, DMY'"), bindMessage(`set${b}`, []), EXECUTE, FLUSH], [bindMessage('nope', []), EXECUTE, SYNC], [queryMessage('RESET ALL')]]],
];

describe('extended protocol: COMMIT in the same Sync segment (also after a Flush)', () => {
  // ids: the direct run uses ids 1000 higher (as many digits) on a plain database
  it.each(segments.map(([name, want, script], i) => [name, want, script, 2100 + 10 * i] as const))('%s: on the target at ReadyForQuery, answered as PostgreSQL answers', async (name, want, script, base) => {
    const viaProxy = await rawSession(tp.url(pair.name));
    const direct = await rawSession(pair.targetUrl);
    try {
      const got: string[][] = [];
      for (const req of script(base)) {
        if (req.includes(FLUSH)) {
          await viaProxy.send(req);
          continue;
        }
        got.push(await viaProxy.request(req));
        // right at the answer, before anything else runs
        if (req.includes(SYNC)) expect(await onBoth(base, base + 1)).toEqual({ source: want.map((d) => base + d), target: want.map((d) => base + d) });
      }
      const expected: string[][] = [];
      for (const req of script(base + 1000)) {
        if (req.includes(FLUSH)) await direct.send(req);
        else expected.push(await direct.request(req));
      }
      expect(got).toEqual(expected);
    } finally {
      viaProxy.close();
      direct.close();
    }
  });
});

describe('answers as PostgreSQL gives them', () => {
  it('multi-statement simple Queries, message for message', async () => {
    const scripts: ((b: number) => string[])[] = [
      (b) => [`BEGIN; INSERT INTO t VALUES (${b}, 'x'); COMMIT`],
      (b) => [`INSERT INTO t VALUES (${b}, 'x'); COMMIT; INSERT INTO t VALUES (${b + 1}, 'x')`],
      (b) => ['BEGIN', `INSERT INTO t VALUES (${b}, 'x'); COMMIT`],
      (b) => [`BEGIN; INSERT INTO t VALUES (${b}, 'x'); SELECT 1/0; COMMIT`, 'SELECT 1', 'ROLLBACK'],
      (b) => [`INSERT INTO t VALUES (${b}, 'x'); SELECT 1/0; COMMIT`, 'SELECT 1'],
      (b) => [`INSERT INTO t VALUES (${b}, 'x'); BEGIN; INSERT INTO t VALUES (${b + 1}, 'x'); COMMIT`],
      (b) => [`SELECT 1; COMMIT; ROLLBACK`],
      (b) => [`INSERT INTO t VALUES (${b}, 'x'); SAVEPOINT a; COMMIT`, 'SELECT 1'],
      (b) => [`BEGIN; INSERT INTO t VALUES (${b}, 'x'); SELECT nosuchcolumn FROM t; COMMIT`, 'ROLLBACK'],
      (b) => [`COMMIT; INSERT INTO t VALUES (${b}, 'x')`],
      (b) => [`ROLLBACK; INSERT INTO t VALUES (${b}, 'x'); SELECT 1/0`, 'SELECT 1'],
      (b) => [`BEGIN; INSERT INTO t VALUES (${b}, 'x'); COMMIT; COMMIT`],
      (b) => ['BEGIN', `INSERT INTO t VALUES (${b}, 'x'); RELEASE nosuch; COMMIT`, 'ROLLBACK'],
      // a setting's new value is reported once, after everything else, before ReadyForQuery (not after its piece)
      (b) => [`INSERT INTO t VALUES (${b}, 'x'); BEGIN; SET application_name = 'split'; SET DateStyle = 'SQL, DMY'; BEGIN; COMMIT`, 'RESET ALL'],
      (b) => [`INSERT INTO t VALUES (${b}, 'x'); SET application_name = 'one'; SAVEPOINT a; SET application_name = 'two'; COMMIT`, 'RESET ALL'],
      // set, then undone by the error that fails the block: the server reports nothing (the client's value again)
      (b) => ['BEGIN', `SET application_name = 'fz'; RELEASE SAVEPOINT nosuch; INSERT INTO t VALUES (${b}, 'x')`, 'ROLLBACK'],
      // an isolation level comes too late after a statement: the server ends the block it converted (25001, then 'I')
      (b) => [`INSERT INTO t VALUES (${b}, 'x'); BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1`, `SELECT count(*) FROM t WHERE id = ${b}`],
      // rows copied out after the COMMIT: the COMMIT still waits for the mirror (on the target at the answer, below)
      (b) => [`INSERT INTO t VALUES (${b}, 'x'); COMMIT; COPY (SELECT id FROM t WHERE id = ${b}) TO STDOUT`],
      // a READ ONLY block's COMMIT among other statements: nothing to drain (the drain would fail it, 25006)
      (b) => ['START TRANSACTION READ ONLY', 'SELECT 1; END'],
      (b) => [`BEGIN READ ONLY; SELECT 1; COMMIT; INSERT INTO t VALUES (${b}, 'x')`],
    ];
    let base = 2200;
    for (const script of scripts) {
      const viaProxy = await rawSession(tp.url(pair.name));
      const direct = await rawSession(pair.targetUrl);
      try {
        const got: string[][] = [];
        for (const q of script(base)) got.push(await viaProxy.request([queryMessage(q)]));
        // a row committed through the proxy is on the target once the client has the answer (the drainer is off)
        const committed = await onBoth(base, base + 9);
        expect(committed.target).toEqual(committed.source);
        const expected: string[][] = [];
        for (const q of script(base + 1000)) expected.push(await direct.request([queryMessage(q)]));
        expect({ script: script(base), got }).toEqual({ script: script(base), got: expected });
      } finally {
        viaProxy.close();
        direct.close();
      }
      base += 10;
    }
  });

  it('an implicit COMMIT a deferred constraint fails: the CommandCompletes the server sends before the error', async () => {
    const ddl = `CREATE TABLE IF NOT EXISTS dparent (id int PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS dchild (id int PRIMARY KEY, p int REFERENCES dparent DEFERRABLE INITIALLY DEFERRED)`;
    await sql(pair.legacyUrl, ddl);
    await sql(pair.targetUrl, ddl);
    const cases: ((b: number) => Buffer[])[] = [
      // simple Query: the commit comes before the last statement's CommandComplete
      (b) => [queryMessage(`INSERT INTO dchild VALUES (${b}, 999999); INSERT INTO t VALUES (${b}, 'x')`)],
      (b) => [queryMessage(`INSERT INTO dchild VALUES (${b}, 999999)`)],
      // extended: at Sync, after every Execute's
      (b) => [...exec(`INSERT INTO dchild VALUES (${b}, 999999)`), ...exec(`INSERT INTO t VALUES (${b}, 'x')`), SYNC],
    ];
    let base = 4200;
    for (const c of cases) {
      const viaProxy = await rawSession(tp.url(pair.name));
      const direct = await rawSession(pair.targetUrl);
      try {
        const got = await viaProxy.request(c(base));
        const expected = await direct.request(c(base + 1000));
        expect(got).toEqual(expected);
        expect(got.some((m) => m.startsWith('E 23503'))).toBe(true);
      } finally {
        viaProxy.close();
        direct.close();
      }
      base += 10;
    }
  });
});
