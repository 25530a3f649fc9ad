import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { databasePair, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from './proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await databasePair('proxy_node_pg');
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
});
afterAll(async () => {
  await tp?.close();
});

describe('node-postgres through the proxy', () => {
  it('runs queries, multi-statement simple queries and transactions', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      await c.query('CREATE TABLE t (id serial PRIMARY KEY, v text)');
      const multi = await c.query("INSERT INTO t (v) VALUES ('a'); INSERT INTO t (v) VALUES ('b'); SELECT count(*)::int AS n FROM t");
      expect(Array.isArray(multi)).toBe(true);
      expect((multi as unknown as pg.QueryResult[])[2]!.rows[0].n).toBe(2);
      await c.query('BEGIN');
      await c.query("INSERT INTO t (v) VALUES ('c')");
      await c.query('ROLLBACK');
      const r = await c.query('SELECT v FROM t ORDER BY id');
      expect(r.rows.map((x) => x.v)).toEqual(['a', 'b']);
      const p = await c.query({ name: 'by-id', text: 'SELECT v FROM t WHERE id = $1', values: [2] });
      expect(p.rows[0].v).toBe('b');
      const again = await c.query({ name: 'by-id', text: 'SELECT v FROM t WHERE id = $1', values: [1] });
      expect(again.rows[0].v).toBe('a');
      await expect(c.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
      // the session keeps working after an error
      expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    } finally {
      await c.end();
    }
  });
});

describe('node-postgres: COPY, LISTEN/NOTIFY, cancel', () => {
  it('copies in and out', async () => {
    const { from, to } = await import('pg-copy-streams');
    const { pipeline } = await import('node:stream/promises');
    const { Readable, Writable } = await import('node:stream');
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      await c.query('CREATE TABLE copy_t (id int PRIMARY KEY, body text)');
      const lines = Array.from({ length: 5000 }, (_, i) => `${i}\tline ${i} ${'x'.repeat(i % 50)}\n`);
      await pipeline(Readable.from(lines), c.query(from('COPY copy_t FROM STDIN')));
      expect((await c.query('SELECT count(*)::int AS n FROM copy_t')).rows[0].n).toBe(5000);
      const chunks: Buffer[] = [];
      await pipeline(c.query(to('COPY (SELECT * FROM copy_t ORDER BY id) TO STDOUT')), new Writable({
        write(chunk, _enc, cb) { chunks.push(chunk); cb(); },
      }));
      expect(Buffer.concat(chunks).toString()).toBe(lines.join(''));
      // a failing COPY comes back as the server's error and the session goes on
      await expect(pipeline(Readable.from(['1\tdup\n']), c.query(from('COPY copy_t FROM STDIN')))).rejects.toMatchObject({ code: '23505' });
      expect((await c.query('SELECT 2 AS two')).rows[0].two).toBe(2);
    } finally {
      await c.end();
    }
  });

  it('delivers NOTIFY to a LISTENing session through the proxy', async () => {
    const listener = new pg.Client({ connectionString: tp.url(pair.name) });
    const notifier = new pg.Client({ connectionString: tp.url(pair.name) });
    await Promise.all([listener.connect(), notifier.connect()]);
    try {
      const got = new Promise<pg.Notification>((resolve) => listener.on('notification', resolve));
      await listener.query('LISTEN cutover_test');
      await notifier.query("NOTIFY cutover_test, 'hello'");
      const n = await got;
      expect(n.channel).toBe('cutover_test');
      expect(n.payload).toBe('hello');
      // the process IDs the proxy hands out are the source backends' own: a notification's sender is
      // recognisable (the docs' way to skip your own), and pg_terminate_backend(processID) finds the session
      const notifierPid = (notifier as unknown as { processID: number }).processID;
      expect(n.processId).toBe(notifierPid);
      expect((await notifier.query('SELECT pg_backend_pid() AS pid')).rows[0].pid).toBe(notifierPid);
      const listenerPid = (listener as unknown as { processID: number }).processID;
      expect(listenerPid).not.toBe(notifierPid);
      // pg emits 'error' twice for a terminated session (the FATAL 57P01, then the socket's end): listen
      // for good, or the second one, if it comes before end() below, is an uncaught exception
      const gone = new Promise((resolve) => listener.on('error', resolve));
      expect((await notifier.query('SELECT pg_terminate_backend($1) AS ok', [listenerPid])).rows[0].ok).toBe(true);
      expect(await gone).toBeTruthy();
    } finally {
      await Promise.all([listener.end(), notifier.end()]);
    }
  });

  it('cancels a running pg_sleep(10) with 57014 within a second', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    try {
      const started = Date.now();
      const q = c.query('SELECT pg_sleep(10)');
      await new Promise((r) => setTimeout(r, 200));
      // pg's own cancel path: a new connection carrying the proxy-issued BackendKeyData
      const canceller = new pg.Client({ connectionString: tp.url(pair.name) });
      (canceller as unknown as { cancel(c: pg.Client, q: unknown): void }).cancel(c, (c as unknown as { activeQuery: unknown }).activeQuery);
      await expect(q).rejects.toMatchObject({ code: '57014' });
      console.info(`pg_sleep(10) cancelled after ${Date.now() - started} ms (cancel sent at 200 ms)`);
      expect(Date.now() - started).toBeLessThan(1200);
      expect((await c.query('SELECT 3 AS three')).rows[0].three).toBe(3);
    } finally {
      await c.end();
    }
  });
});
