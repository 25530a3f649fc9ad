// pg_sleep on an SQLite source, compared with a real server: the same result
// (one void column, NULL for NULL), ended by statement_timeout or by the
// client's cancel with 57014, the session usable after. Before, pg_sleep was
// refused (0A000), so a client's cancel and timeout code (and the tests of
// node-postgres, postgres.js and most drivers, which sleep to have something
// to cancel) could not run on it. The wait is a timer: other sessions go on
// while one sleeps, as on PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import pg from 'pg';
import { comparedPair, connectClient, statementOutcome, type ComparedPair } from './mirror-harness.ts';

let pair: ComparedPair;

beforeAll(async () => {
  pair = await comparedPair('sqlite_sleep', 'CREATE TABLE t (id INTEGER PRIMARY KEY)', ['CREATE TABLE t (id bigint PRIMARY KEY)']);
});
afterAll(() => pair?.close());

const both = async (text: string, params?: unknown[]) => {
  const [got, want] = await Promise.all([statementOutcome(pair.proxy, text, params), statementOutcome(pair.ref, text, params)]);
  expect(got, text).toEqual(want);
  return got;
};

/** node-postgres's Client#cancel: a CancelRequest, on a new connection, for the query `c` is running. */
function cancelOf(via: pg.Client, c: pg.Client): void {
  const running = c as unknown as { _activeQuery: unknown };
  (via as unknown as { cancel(c: pg.Client, q: unknown): void }).cancel(c, running._activeQuery);
}

/** A CancelRequest with the key given, on a connection of its own; resolves when the proxy closes it. */
function rawCancel(url: string, pid: number, secret: number): Promise<void> {
  const { hostname, port } = new URL(url);
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(pid, 8);
  packet.writeInt32BE(secret, 12);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname, () => s.write(packet));
    s.on('error', reject);
    s.on('close', () => resolve());
    s.resume();
  });
}

/** How long a statement took, and what it gave. */
async function timed(c: pg.Client, text: string, params?: unknown[]): Promise<{ ms: number; outcome: unknown }> {
  const t0 = performance.now();
  const outcome = await statementOutcome(c, text, params);
  return { ms: performance.now() - t0, outcome };
}

describe('SQLite source: pg_sleep', () => {
  it('answers as PostgreSQL: a void column, by name or alias, NULL for NULL, both protocols', async () => {
    await both('SELECT pg_sleep(0.05)');
    await both('SELECT pg_sleep(0)');
    await both('SELECT pg_catalog.pg_sleep(0.01) AS waited');
    await both('SELECT pg_sleep($1)', [0.05]);
    await both('SELECT pg_sleep($1::float8) AS x', ['0.01']);
    await both('SELECT pg_sleep(NULL)');
    await both('SELECT pg_sleep(-1)');
    const fields = (await pair.proxy.query('SELECT pg_sleep(0)')).fields;
    expect(fields.map((f) => f.dataTypeID)).toEqual([2278]);
  });

  it('waits as long as asked', async () => {
    const { ms } = await timed(pair.proxy, 'SELECT pg_sleep(0.3)');
    expect(ms).toBeGreaterThanOrEqual(280);
  });

  it('ends at statement_timeout with 57014, and a transaction it was in is failed, as on PostgreSQL', async () => {
    await both(`SET statement_timeout = '100ms'`);
    const { outcome } = await timed(pair.proxy, 'SELECT pg_sleep(5)');
    expect(outcome).toEqual(await statementOutcome(pair.ref, 'SELECT pg_sleep(5)'));
    expect(outcome).toMatchObject({ code: '57014', message: 'canceling statement due to statement timeout' });
    await both('RESET statement_timeout');
    await both('BEGIN');
    await both('SET LOCAL statement_timeout = 50');
    await both('SELECT pg_sleep(5)');
    await both('SELECT 1 AS after');
    await both('ROLLBACK');
    await both('SELECT 1 AS after');
  });

  it("ends at the client's cancel with 57014; the session goes on", async () => {
    const c = await connectClient(pair.mirror.url());
    try {
      const running = timed(c, 'SELECT pg_sleep(10)');
      await new Promise((r) => setTimeout(r, 200));
      // node-postgres's own cancel: a CancelRequest on a new connection with the session's key
      const canceller = new pg.Client({ connectionString: pair.mirror.url() });
      cancelOf(canceller, c);
      const { outcome } = await running;
      expect(outcome).toEqual({ code: '57014', message: 'canceling statement due to user request' });
      expect(await statementOutcome(c, 'SELECT 2 AS after')).toEqual(['SELECT', 1, ['after'], [['2']]]);
      // a key no session has cancels nothing
      const other = await connectClient(pair.mirror.url());
      const sleeping = timed(other, 'SELECT pg_sleep(0.5)');
      const key = other as unknown as { processID: number; secretKey: number };
      await rawCancel(pair.mirror.url(), key.processID, key.secretKey ^ 1);
      expect((await sleeping).outcome).toEqual(['SELECT', 1, ['pg_sleep'], [['']]]);
      await other.end();
    } finally {
      await c.end();
    }
  });

  it('lets other sessions run while one sleeps', async () => {
    const other = await connectClient(pair.mirror.url());
    try {
      const done: string[] = [];
      const sleeping = timed(pair.proxy, 'SELECT pg_sleep(1)').then((r) => (done.push('sleep'), r));
      await new Promise((r) => setTimeout(r, 100));
      const quick = await timed(other, 'INSERT INTO t (id) VALUES (1) RETURNING id').then((r) => (done.push('insert'), r));
      expect(quick.outcome).toEqual(['INSERT', 1, ['id'], [['1']]]);
      await sleeping;
      // the write finished while the other session slept: nothing waited for the sleep
      expect(done).toEqual(['insert', 'sleep']);
    } finally {
      await other.end();
    }
  });
});
