// A client that hangs up right after sending COMMIT (socket closed, or a
// Terminate message) gets what PostgreSQL gives it directly: the COMMIT it
// sent is carried out, on the mirror and on the source. One that hangs up
// inside a transaction leaves nothing on either. Before, the session's
// Terminate overtook the COMMIT still waiting for its mirror apply: the
// mirror kept every such transaction, the source none.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_client_hangup', 'CREATE TABLE kv (id int PRIMARY KEY, v text)');
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
});
afterAll(async () => {
  await tp?.close();
});

async function session(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}
const count = async (url: string) => (await sql(url, 'SELECT count(*)::int AS n FROM kv')).rows[0].n as number;

describe('a client hanging up', () => {
  it('right after COMMIT: committed on both; inside a transaction: on neither', async () => {
    for (let i = 0; i < 20; i++) {
      const c = await session();
      await c.query('BEGIN');
      await c.query('INSERT INTO kv VALUES ($1, $2)', [i, 'committed']);
      const commit = c.query('COMMIT').catch(() => undefined);
      // half of them close the socket at once, half send Terminate first (pg's end())
      if (i % 2) (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      else void c.end().catch(() => undefined);
      await commit;
    }
    for (let i = 100; i < 110; i++) {
      const c = await session();
      await c.query('BEGIN');
      await c.query('INSERT INTO kv VALUES ($1, $2)', [i, 'left open']);
      (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    }
    // the sessions end once their last request is done
    const deadline = Date.now() + 10_000;
    while (tp.proxy.stats().sessionsOpen > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(tp.proxy.stats().sessionsOpen).toBe(0);
    await tp.proxy.drainer!.flush();
    expect(await count(pair.legacyUrl)).toBe(20);
    expect(await count(pair.targetUrl)).toBe(20);
    const diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, ['public.kv']);
    expect(diffs.filter((d) => !d.equal)).toEqual([]);
    expect(tp.live.get().tripped).toBeNull();
  }, 60_000);

  it('after messages with no Sync: an Execute of COMMIT commits on both, an implicit transaction on neither (as directly)', async () => {
    type Raw = { connection: { parse(q: object): void; bind(q: object): void; execute(q: object): void; stream: { end(): void } } };
    const ends = async (c: pg.Client) => {
      // end(), not destroy(): the messages already written reach the server before the FIN
      (c as unknown as Raw).connection.stream.end();
      await new Promise((r) => setTimeout(r, 50));
    };
    const runs = async (url: string, base: number, table = 'kv') => {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => undefined);
      await c.connect();
      await c.query('BEGIN');
      await c.query(`INSERT INTO ${table} VALUES ($1, $2)`, [base, 'commit by Execute']);
      const raw = (c as unknown as Raw).connection;
      raw.parse({ text: 'COMMIT' });
      raw.bind({});
      raw.execute({});
      await ends(c);
      const d = new pg.Client({ connectionString: url });
      d.on('error', () => undefined);
      await d.connect();
      const rawD = (d as unknown as Raw).connection;
      rawD.parse({ text: `INSERT INTO ${table} VALUES (${base + 1}, 'implicit, no Sync')` });
      rawD.bind({});
      rawD.execute({});
      await ends(d);
    };
    // the reference: PostgreSQL itself (a table of the mirror's database that nothing else touches)
    await sql(pair.targetUrl, 'CREATE TABLE kv_direct (id int PRIMARY KEY, v text)');
    await runs(pair.targetUrl, 500, 'kv_direct');
    await runs(tp.url(pair.name), 600);
    const deadline = Date.now() + 10_000;
    while (tp.proxy.stats().sessionsOpen > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    await tp.proxy.drainer!.flush();
    const ids = async (url: string, table = 'kv') => (await sql(url, `SELECT id FROM ${table} WHERE id >= 500 ORDER BY id`)).rows.map((r) => r.id);
    // directly: the Execute of COMMIT committed, the implicit transaction without its Sync did not
    expect(await ids(pair.targetUrl, 'kv_direct')).toEqual([500]);
    expect(await ids(pair.legacyUrl)).toEqual([600]);
    expect(await ids(pair.targetUrl)).toEqual([600]);
    const diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, ['public.kv']);
    expect(diffs.filter((d) => !d.equal)).toEqual([]);
  });

  it('what follows a Terminate runs nowhere, as PostgreSQL reads nothing after it', async () => {
    // node-postgres's connect callback with query() then end(): the Terminate leaves first, the queued query
    // behind it in the same write (its own integration tests do this). Written here in one packet, in both protocols
    type Raw = { connection: { stream: { write(b: Buffer): void } } };
    const afterTerminate = async (url: string, table: string, id: number) => {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => undefined);
      await c.connect();
      const q = (text: string) => Buffer.concat([Buffer.from('Q'), Buffer.alloc(4), Buffer.from(text + '\0')]);
      const simple = q(`INSERT INTO ${table} VALUES (${id}, 'after Terminate')`);
      simple.writeInt32BE(simple.length - 1, 1);
      const terminate = Buffer.from([0x58, 0, 0, 0, 4]);
      const parse = Buffer.concat([Buffer.from('P'), Buffer.alloc(4), Buffer.from(`\0INSERT INTO ${table} VALUES (${id + 1}, 'after Terminate')\0`), Buffer.alloc(2)]);
      parse.writeInt32BE(parse.length - 1, 1);
      const bind = Buffer.from([0x42, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0]);
      const execute = Buffer.from([0x45, 0, 0, 0, 9, 0, 0, 0, 0, 0]);
      const sync = Buffer.from([0x53, 0, 0, 0, 4]);
      (c as unknown as Raw).connection.stream.write(Buffer.concat([terminate, simple, parse, bind, execute, sync]));
      await new Promise((r) => setTimeout(r, 300));
    };
    await sql(pair.targetUrl, 'CREATE TABLE IF NOT EXISTS kv_direct (id int PRIMARY KEY, v text)');
    await afterTerminate(pair.targetUrl, 'kv_direct', 700);
    await afterTerminate(tp.url(pair.name), 'kv', 800);
    await tp.proxy.drainer!.flush();
    const ids = async (url: string, table = 'kv') => (await sql(url, `SELECT id FROM ${table} WHERE id >= 700 ORDER BY id`)).rows.map((r) => r.id);
    expect(await ids(pair.targetUrl, 'kv_direct')).toEqual([]);
    expect(await ids(pair.legacyUrl)).toEqual([]);
    expect(await ids(pair.targetUrl)).toEqual([]);
  });

  it('Terminate alone: the connection is closed at once, as PostgreSQL closes it (asyncpg\'s close() waits for that)', async () => {
    const closes = async (url: string) => {
      const c = await connectRaw(url);
      const started = Date.now();
      const closed = new Promise<number>((resolve) => c.stream.once('close', () => resolve(Date.now() - started)));
      c.stream.write(Buffer.from([0x58, 0, 0, 0, 4]));
      return Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), 3_000))]);
    };
    expect(await closes(pair.legacyUrl)).not.toBeNull();
    const ms = await closes(tp.url(pair.name));
    expect(ms).not.toBeNull();
    expect(ms!).toBeLessThan(1_000);
    // and its source connection is gone with it
    await tp.proxy.drainer!.flush();
    for (const deadline = Date.now() + 5_000; Date.now() < deadline && tp.proxy.stats().sessionsOpen > 0; ) await new Promise((r) => setTimeout(r, 20));
    expect(tp.proxy.stats().sessionsOpen).toBe(0);
  });
});

/** A logged-in connection whose socket the test writes to itself. */
async function connectRaw(url: string): Promise<{ stream: import('node:net').Socket }> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  const stream = (c as unknown as { connection: { stream: import('node:net').Socket } }).connection.stream;
  stream.removeAllListeners('data');
  return { stream };
}
