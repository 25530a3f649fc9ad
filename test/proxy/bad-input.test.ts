import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import pino from 'pino';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from './proxy-harness.ts';
import { exchange, firstError, startupPacket } from './raw-wire.ts';

let pair: DbPair;
let tp: TestProxy;
/** Held open for the whole file: every bad input must leave it working. */
let bystander: pg.Client;
/** The proxy's warnings, one JSON line each. */
const warnings: string[] = [];

beforeAll(async () => {
  pair = await databasePair('proxy_bad_input');
  await sql(pair.legacyUrl, 'CREATE TABLE heartbeat (n int)');
  await sql(pair.legacyUrl, "CREATE ROLE md5user LOGIN PASSWORD 'md5pass'");
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, maxMessageSize: 1024 * 1024 }, pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) }));
  bystander = new pg.Client({ connectionString: tp.url(pair.name) });
  await bystander.connect();
  await bystander.query('BEGIN');
  await bystander.query('INSERT INTO heartbeat VALUES (1)');
});
afterAll(async () => {
  await bystander?.end().catch(() => undefined);
  await tp?.close();
  await sql(pair.legacyUrl, 'DROP ROLE IF EXISTS md5user').catch(() => undefined);
});

async function connectError(url: string): Promise<{ code?: string; message: string }> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.end();
    return { message: 'connected' };
  } catch (e) {
    return e as { code?: string; message: string };
  }
}

describe('bad input gets a precise error and harms nobody else', () => {
  it('wrong password: 28P01', async () => {
    const e = await connectError(tp.url(pair.name, 'postgres', 'wrong'));
    expect(e.code).toBe('28P01');
    expect(e.message).toContain('password authentication failed for user "postgres"');
  });

  it('unknown user: the same 28P01, so names cannot be probed', async () => {
    const e = await connectError(tp.url(pair.name, 'nobody_here', 'x'));
    expect(e.code).toBe('28P01');
  });

  it('unknown database: the server\'s 3D000, unchanged', async () => {
    const e = await connectError(tp.url('no_such_database'));
    expect(e.code).toBe('3D000');
    expect(e.message).toContain('"no_such_database" does not exist');
  });

  it('a message over max_message_size: FATAL 08P01 and the session is closed', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    c.on('error', () => undefined);
    await c.connect();
    const err = await c.query(`SELECT '${'x'.repeat(2 * 1024 * 1024)}'`).catch((e) => e);
    expect(err.code).toBe('08P01');
    expect(err.message).toMatch(/exceeds the limit of 1048576 bytes/);
    await c.end().catch(() => undefined);
    // the rest of the message, arriving after the refusal, is dropped: one warning, not one per chunk (there were dozens)
    await new Promise((r) => setTimeout(r, 300));
    expect(warnings.filter((w) => w.includes('exceeds the limit'))).toHaveLength(1);
    expect(warnings.filter((w) => w.includes('bad message from client'))).toHaveLength(1);
  });

  it('truncated startup packet: FATAL 08P01', async () => {
    const full = startupPacket({ user: 'postgres', database: pair.name });
    const r = await exchange(tp.port, full.subarray(0, full.length - 3), 500);
    // the proxy waits for the rest; the client going away ends it without harm
    expect(r.bytes.length).toBe(0);
    const bad = Buffer.from(full);
    bad[bad.length - 1] = 0x41; // no terminator where one must be
    const r2 = await exchange(tp.port, bad);
    expect(r2.error?.C).toBe('08P01');
    expect(r2.error?.S).toBe('FATAL');
    expect(r2.closed).toBe(true);
  });

  it('a startup packet with an absurd length: FATAL 08P01', async () => {
    const r = await exchange(tp.port, Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0]));
    expect(r.error).toMatchObject({ C: '08P01', S: 'FATAL' });
    expect(r.error?.M).toMatch(/invalid length of startup packet/);
    expect(r.closed).toBe(true);
  });

  it('Terminate before the startup packet: closed without a word, as PostgreSQL closes it', async () => {
    // node-postgres's connect(); end(): an error here would reach that client as a failed connect
    const terminate = Buffer.from([0x58, 0, 0, 0, 4]);
    const [viaProxy, direct] = await Promise.all([exchange(tp.port, terminate, 500), exchange(Number(new URL(pair.legacyUrl).port), terminate, 500)]);
    expect(direct.bytes.length).toBe(0);
    expect(viaProxy.bytes.length).toBe(0);
    expect(viaProxy.closed).toBe(true);
  });

  it('random bytes: FATAL 08P01 and closed, 20 times', async () => {
    for (let i = 0; i < 20; i++) {
      const junk = randomBytes(64);
      junk.writeInt32BE(0x40000000 + i, 0); // make sure the length is never a valid start-up length
      const r = await exchange(tp.port, junk);
      expect(r.error?.C).toBe('08P01');
      expect(r.closed).toBe(true);
    }
  });

  it('a replication connection (physical or logical): FATAL 0A000 before any password, not an SQL session that fails later', async () => {
    for (const replication of ['database', 'true', 'on', 'YES', '1']) {
      const r = await exchange(tp.port, startupPacket({ user: 'postgres', database: pair.name, replication }));
      expect(r.error?.C, replication).toBe('0A000');
      expect(r.error?.M).toContain('replication connections are not supported through the Cutover proxy');
      expect(r.closed).toBe(true);
    }
    const bogus = await exchange(tp.port, startupPacket({ user: 'postgres', database: pair.name, replication: 'sometimes' }));
    expect(bogus.error?.C).toBe('22023');
    expect(bogus.error?.M).toBe('invalid value for parameter "replication": "sometimes"');
  });

  it('replication=false is an ordinary session', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name), replication: false } as pg.ClientConfig);
    await c.connect();
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await c.end();
    const off = await exchange(tp.port, startupPacket({ user: 'postgres', database: pair.name, replication: 'off' }), 500);
    expect(off.error).toBeNull();
  });

  it('an unsupported protocol version: FATAL 0A000', async () => {
    const r = await exchange(tp.port, startupPacket({ user: 'postgres' }, 2 << 16));
    expect(r.error?.C).toBe('0A000');
  });

  it('an encryption request sent twice: refused the second time as an unknown protocol, as the server refuses it', async () => {
    // the proxy answered N up to three times and read on; PostgreSQL answers each kind once
    const request = (code: number) => Buffer.from([0, 0, 0, 8, code >> 24, (code >> 16) & 255, (code >> 8) & 255, code & 255]);
    const ssl = request(80877103);
    const gss = request(80877104);
    const direct = await oneByOne(Number(new URL(pair.legacyUrl).port), [ssl, ssl]);
    expect(direct.subarray(0, 1).toString()).toBe('N');
    const refusal = firstError(direct.subarray(1))!;
    expect(refusal).toMatchObject({ S: 'FATAL', C: '0A000' });
    // the server accepts GSSAPI encryption, the proxy offers none: only the proxy's answers are compared for it
    for (const payload of [[ssl, ssl], [gss, gss], [ssl, gss, gss]]) {
      const viaProxy = await oneByOne(tp.port, payload);
      expect(viaProxy.subarray(0, payload.length - 1).toString()).toBe('N'.repeat(payload.length - 1));
      expect(firstError(viaProxy.subarray(payload.length - 1))).toMatchObject({ S: 'FATAL', C: '0A000', M: expect.stringMatching(/^unsupported frontend protocol 1234\.(5679|5680): server supports 3\.0/) });
    }
    expect(refusal.M).toMatch(/^unsupported frontend protocol 1234\.5679: server supports 3\.0/);
  });

  it('protocol 3.2 (PostgreSQL 18 clients) or _pq_ options: NegotiateProtocolVersion first, the same as the server sends', async () => {
    const first = (bytes: Buffer) => bytes.subarray(0, 1 + bytes.readInt32BE(1));
    const server = Number(new URL(pair.legacyUrl).port);
    for (const [params, version] of [[{ user: 'postgres', database: pair.name }, (3 << 16) | 2], [{ user: 'postgres', database: pair.name, '_pq_.extension': 'x' }, 3 << 16]] as const) {
      const [viaProxy, direct] = await Promise.all([exchange(tp.port, startupPacket(params, version), 500), exchange(server, startupPacket(params, version), 500)]);
      expect(String.fromCharCode(viaProxy.bytes[0]!)).toBe('v');
      expect(first(viaProxy.bytes).equals(first(direct.bytes))).toBe(true);
      // and authentication carries on
      expect(String.fromCharCode(viaProxy.bytes[first(viaProxy.bytes).length]!)).toBe('R');
    }
  });

  it('garbage after authentication: FATAL 08P01', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    c.on('error', () => undefined);
    await c.connect();
    const closed = new Promise<void>((r) => c.on('end', () => r()));
    const stream = (c as unknown as { connection: { stream: NodeJS.WritableStream } }).connection.stream;
    stream.write(Buffer.from([0x51, 0xff, 0xff, 0xff, 0xf0, 1, 2, 3])); // a Query whose length is negative
    await closed;
  });

  it('a message type no frontend sends: what came before is answered, then FATAL 08P01 as PostgreSQL ends it', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    const errors: { code?: string; message: string }[] = [];
    c.on('error', (e) => errors.push(e as { code?: string; message: string }));
    await c.connect();
    const closed = new Promise<void>((r) => c.on('end', () => r()));
    const answered = c.query('SELECT 41 + 1 AS n');
    const stream = (c as unknown as { connection: { stream: NodeJS.WritableStream } }).connection.stream;
    stream.write(Buffer.from([0x7a, 0, 0, 0, 4])); // 'z'
    expect((await answered).rows[0].n).toBe(42);
    await closed;
    expect(errors[0]).toMatchObject({ code: '08P01', message: 'invalid frontend message type 122' });
  });

  it('md5 authentication to the proxy, with the password from the users list', async () => {
    const md5proxy = await startTestProxy({ source: pair.legacyUrl, auth: 'md5', users: [{ name: 'md5user', password: 'md5pass' }] });
    try {
      const c = new pg.Client({ connectionString: md5proxy.url(pair.name, 'md5user', 'md5pass') });
      await c.connect();
      expect((await c.query('SELECT current_user AS u')).rows[0].u).toBe('md5user');
      await c.end();
      expect((await connectError(md5proxy.url(pair.name, 'md5user', 'nope'))).code).toBe('28P01');
    } finally {
      await md5proxy.close();
    }
  });

  it('the bystander session is still in its transaction and working', async () => {
    await bystander.query('INSERT INTO heartbeat VALUES (2)');
    await bystander.query('COMMIT');
    const r = await bystander.query('SELECT count(*)::int AS n FROM heartbeat');
    expect(r.rows[0].n).toBe(2);
  });
});

/** Each request sent once the answer to the one before is in (PostgreSQL refuses bytes pipelined behind an encryption request); all that came back, once closed. */
function oneByOne(port: number, requests: Buffer[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let next = 0;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('the connection was not closed'));
    }, 5_000);
    s.on('connect', () => s.write(requests[next++]!));
    s.on('data', (d) => {
      got.push(d);
      if (next < requests.length) s.write(requests[next++]!);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
  });
}
