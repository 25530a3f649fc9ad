// Backpressure through the message relay (mirroring, reads routed): a client
// that sends queries and does not read their answers must not make the proxy
// hold them. The byte relay stops reading the server while the client's socket
// is full, as PostgreSQL stops for a slow client; the message relay held
// everything: 400 pipelined 1 MB answers became 400 MB of the proxy's memory
// (3.6 GB in 15 s in a longer run), and a single routed read of 300 MB was
// held whole before its first byte went out, for every session alike. Memory
// is measured as the Buffer bytes of this process, where the test proxy runs.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { serialize } from 'pg-protocol';
import { sql } from '../harness/databases.ts';
import { startupPacket } from '../proxy/raw-wire.ts';
import { mirroredPair } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_backpressure', 'CREATE TABLE t (id int PRIMARY KEY); CREATE SEQUENCE s');
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 100, auth: 'trust' });
});
afterAll(async () => {
  await tp?.close();
});

function query(text: string): Buffer {
  const body = Buffer.from(text + '\0');
  const head = Buffer.alloc(5);
  head[0] = 0x51;
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

/**
 * Connects, sends `count` copies of `text` at once, reads nothing for `idleMs`
 * and reports the growth of this process's Buffer memory meanwhile; then reads
 * every answer and counts the rows and their bytes.
 */
async function unreadPipeline(text: string, count: number, idleMs: number): Promise<{ grewMb: number; answers: number; rows: number; rowBytes: number; errors: string[] }> {
  const s = net.connect(tp.port, '127.0.0.1');
  s.on('error', () => undefined);
  let pending: Buffer = Buffer.alloc(0);
  let ready = 0;
  let rows = 0;
  let rowBytes = 0;
  const errors: string[] = [];
  let onReady: (() => void) | null = null;
  s.on('data', (d: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, d]) : d;
    let o = 0;
    while (pending.length - o >= 5) {
      const len = pending.readInt32BE(o + 1);
      if (pending.length - o < 1 + len) break;
      const type = pending[o];
      if (type === 0x5a) {
        ready++;
        onReady?.();
      } else if (type === 0x44) {
        rows++;
        rowBytes += len;
      } else if (type === 0x45) errors.push(pending.toString('utf8', o + 5, o + 1 + len));
      o += 1 + len;
    }
    pending = pending.subarray(o);
  });
  const until = (n: number) => new Promise<void>((resolve) => {
    if (ready >= n) return resolve();
    onReady = () => ready >= n && resolve();
  });
  s.write(startupPacket({ user: 'postgres', database: pair.name }));
  await until(1);
  s.pause();
  const before = process.memoryUsage().arrayBuffers;
  s.write(Buffer.concat(Array.from({ length: count }, () => query(text))));
  await new Promise((r) => setTimeout(r, idleMs));
  const grewMb = (process.memoryUsage().arrayBuffers - before) / (1 << 20);
  s.resume();
  await until(1 + count);
  s.end();
  return { grewMb, answers: ready - 1, rows, rowBytes, errors };
}

describe('a client that does not read its answers', () => {
  it('400 pipelined reads of 1 MB each are not held by the proxy, and all arrive once it reads', async () => {
    const r = await unreadPipeline(`SELECT repeat('x', 1048576)`, 400, 3_000);
    console.log(`proxy memory grew by ${r.grewMb.toFixed(1)} MB while 400 MB of answers waited`);
    expect(r.grewMb).toBeLessThan(100);
    expect(r).toMatchObject({ answers: 400, rows: 400, errors: [] });
  });

  it('a routed read of 300 MB streams on from the target instead of being held whole', async () => {
    const r = await unreadPipeline(`SELECT repeat('x', 1048576) FROM generate_series(1, 300)`, 1, 3_000);
    console.log(`proxy memory grew by ${r.grewMb.toFixed(1)} MB while a 300 MB answer waited`);
    expect(r.grewMb).toBeLessThan(100);
    expect(r).toMatchObject({ answers: 1, rows: 300, errors: [] });
    expect(r.rowBytes).toBeGreaterThan(300 * 1048576);
  });

  it('reads on the source (reads at 0 %) likewise', async () => {
    tp.live.update({ readPercent: 0 });
    try {
      const r = await unreadPipeline(`SELECT repeat('y', 1048576)`, 300, 3_000);
      console.log(`proxy memory grew by ${r.grewMb.toFixed(1)} MB while 300 MB of source answers waited`);
      expect(r.grewMb).toBeLessThan(100);
      expect(r).toMatchObject({ answers: 300, rows: 300, errors: [] });
    } finally {
      tp.live.update({ readPercent: 100 });
    }
  });

  it('extended-protocol messages sent without a Sync run as they come, not pile up in the proxy until one', async () => {
    const s = net.connect(tp.port, '127.0.0.1');
    s.on('error', () => undefined);
    let ready = 0;
    let completes = 0;
    let rest: Buffer = Buffer.alloc(0);
    let onReady: (() => void) | null = null;
    s.on('data', (d: Buffer) => {
      rest = rest.length ? Buffer.concat([rest, d]) : d;
      let i = 0;
      for (let len: number; i + 5 <= rest.length && i + 1 + (len = rest.readInt32BE(i + 1)) <= rest.length; i += 1 + len) {
        if (rest[i] === 0x43) completes++;
        if (rest[i] === 0x5a) {
          ready++;
          onReady?.();
        }
      }
      rest = rest.subarray(i);
    });
    const until = (n: number) => new Promise<void>((resolve) => (ready >= n ? resolve() : (onReady = () => ready >= n && resolve())));
    s.write(startupPacket({ user: 'postgres', database: pair.name }));
    await until(1);
    const one = Buffer.concat([serialize.bind({}), serialize.execute()]);
    s.write(Buffer.concat([serialize.parse({ text: `SELECT nextval('s')` }), ...Array.from({ length: 3000 }, () => one)]));
    // the server would have run them by now; the proxy held all 3000 until the Sync (a client never sending one grew it without end)
    const deadline = Date.now() + 10_000;
    let ran = 0;
    while (Date.now() < deadline && ran < 1024) {
      await new Promise((r) => setTimeout(r, 100));
      ran = Number((await sql(pair.legacyUrl, 'SELECT last_value, is_called FROM s')).rows[0].last_value);
    }
    expect(ran).toBeGreaterThanOrEqual(1024);
    s.write(serialize.sync());
    await until(2);
    s.end();
    expect(completes).toBe(3000);
    expect(Number((await sql(pair.legacyUrl, 'SELECT last_value FROM s')).rows[0].last_value)).toBe(3000);
  });
});

describe('a client that stops reading and then hangs up', () => {
  // PostgreSQL ends a backend whose client went away as soon as its next write fails; the proxy kept the
  // session's connections paused for the gone client, their queries running (and holding snapshots) for ever
  for (const where of ['source', 'target'] as const) {
    it(`leaves no query running on the ${where}`, async () => {
      const tag = `hangup_${where}_${Date.now()}`;
      const s = net.connect(tp.port, '127.0.0.1');
      s.on('error', () => undefined);
      await new Promise<void>((resolve) => {
        let got = Buffer.alloc(0);
        const onData = (d: Buffer) => {
          got = Buffer.concat([got, d]);
          if (got.includes(Buffer.from([0x5a, 0, 0, 0, 5]))) {
            s.off('data', onData);
            resolve();
          }
        };
        s.on('data', onData);
        s.write(startupPacket({ user: 'postgres', database: pair.name, application_name: tag }));
      });
      s.pause();
      const pin = where === 'source' ? '/* cutover:source */ ' : '';
      s.write(query(`${pin}SELECT g, repeat('x', 200) FROM generate_series(1, 3000000) g`));
      const url = where === 'source' ? pair.legacyUrl : pair.targetUrl;
      const running = async () => Number((await sql(url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%generate_series(1, 3000000)%' AND pid <> pg_backend_pid()`)).rows[0].n);
      let seen = 0;
      for (let i = 0; i < 50 && !(seen = await running()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(seen).toBe(1);
      await new Promise((r) => setTimeout(r, 1_000));
      s.destroy();
      let left = seen;
      for (let i = 0; i < 100 && (left = await running()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(left).toBe(0);
    });
  }
});
