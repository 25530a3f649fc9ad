// The SQLite engine's own protocol handling, byte for byte: binary parameters and
// results, portals with a row limit, error → skip until Sync, refused messages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { serialize } from 'pg-protocol';
import { openSqliteBackend } from '../../proxy/sqlite/index.ts';

let dir: string;
let file: string;

interface Msg {
  type: string;
  body: Buffer;
}

function parseAll(bytes: Buffer): Msg[] {
  const out: Msg[] = [];
  for (let i = 0; i + 5 <= bytes.length; ) {
    const len = bytes.readInt32BE(i + 1);
    out.push({ type: String.fromCharCode(bytes[i]!), body: bytes.subarray(i + 5, i + 1 + len) });
    i += 1 + len;
  }
  return out;
}

function cells(body: Buffer): (Buffer | null)[] {
  const n = body.readInt16BE(0);
  const out: (Buffer | null)[] = [];
  let i = 2;
  for (let k = 0; k < n; k++) {
    const len = body.readInt32BE(i);
    i += 4;
    if (len < 0) out.push(null);
    else {
      out.push(body.subarray(i, i + len));
      i += len;
    }
  }
  return out;
}

const errorCode = (m: Msg): string => {
  const s = m.body.toString('utf8');
  return s.split('\0').find((f) => f.startsWith('C'))!.slice(1);
};

/** Writes messages and collects the replies up to the `count`-th ReadyForQuery. */
async function roundTrip(b: Duplex, payload: Buffer[], count = 1): Promise<Msg[]> {
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    const onData = (d: Buffer) => {
      chunks.push(d);
      const msgs = parseAll(Buffer.concat(chunks));
      if (msgs.filter((m) => m.type === 'Z').length >= count) {
        b.off('data', onData);
        resolve(msgs);
      }
    };
    b.on('data', onData);
    b.write(Buffer.concat(payload));
  });
}

async function open(): Promise<Duplex> {
  const b = await openSqliteBackend(file, { user: 'u', database: 'd', application_name: 'wire' });
  const hello = await roundTrip(b, [], 1);
  expect(hello.map((m) => m.type)).toEqual([...Array(11).fill('S'), 'K', 'Z']);
  return b;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cutover-sqlite-wire-'));
  file = path.join(dir, 'wire.db');
  // an empty file is an empty SQLite database; the engine opens none that is missing
  writeFileSync(file, '');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SQLite engine on the wire', () => {
  it('takes binary parameters and returns binary results of the requested types', async () => {
    const b = await open();
    await roundTrip(b, [serialize.query('CREATE TABLE v (i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision, ok boolean, body bytea, t text)')]);
    const i2 = Buffer.alloc(2); i2.writeInt16BE(-7);
    const i4 = Buffer.alloc(4); i4.writeInt32BE(2147483647);
    const i8 = Buffer.alloc(8); i8.writeBigInt64BE(9007199254740993n);
    const f4 = Buffer.alloc(4); f4.writeFloatBE(1.5);
    const f8 = Buffer.alloc(8); f8.writeDoubleBE(0.1 + 0.2);
    const ok = Buffer.from([1]);
    const body = Buffer.from([0, 1, 2, 255]);
    const reply = await roundTrip(b, [
      serialize.parse({ name: 'ins', text: 'INSERT INTO v VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *', types: [21, 23, 20, 700, 701, 16, 17, 25] }),
      serialize.bind({ statement: 'ins', values: [i2, i4, i8, f4, f8, ok, body, 'ü'], binary: true }),
      serialize.describe({ type: 'P' }),
      serialize.execute(),
      serialize.sync(),
    ]);
    expect(reply.map((m) => m.type)).toEqual(['1', '2', 'T', 'D', 'C', 'Z']);
    const row = cells(reply.find((m) => m.type === 'D')!.body);
    expect(row[2]!.readBigInt64BE(0)).toBe(9007199254740993n);
    expect(row[4]!.readDoubleBE(0)).toBe(0.30000000000000004);
    expect([...row[5]!]).toEqual([1]);
    expect([...row[6]!]).toEqual([0, 1, 2, 255]);
    expect(row[7]!.toString()).toBe('ü');
    expect(reply.find((m) => m.type === 'C')!.body.toString()).toBe('INSERT 0 1\0');
    b.end(serialize.end());
  });

  it('stops answering while its output is not taken, and goes on when it is', async () => {
    const b = await open();
    await roundTrip(b, [serialize.query('CREATE TABLE big (v text)')]);
    await roundTrip(b, [serialize.parse({ text: 'INSERT INTO big VALUES ($1)' }), serialize.bind({ values: ['x'.repeat(1 << 20)] }), serialize.execute(), serialize.sync()]);
    // 300 answers of 1 MB asked for at once, none read: the engine ran them all into memory before
    b.pause();
    b.write(Buffer.concat(Array.from({ length: 300 }, () => serialize.query('SELECT v FROM big'))));
    await new Promise((r) => setTimeout(r, 500));
    expect(b.readableLength).toBeLessThan(8 << 20);
    // counted as they come (roundTrip parses everything again at each chunk: too slow for 300 MB)
    const rows: number[] = [];
    await new Promise<void>((resolve) => {
      let rest: Buffer = Buffer.alloc(0);
      let ready = 0;
      b.on('data', (d: Buffer) => {
        rest = rest.length ? Buffer.concat([rest, d]) : d;
        let i = 0;
        for (let len: number; i + 5 <= rest.length && i + 1 + (len = rest.readInt32BE(i + 1)) <= rest.length; i += 1 + len) {
          if (rest[i] === 0x44) rows.push(len - 4);
          if (rest[i] === 0x5a && ++ready === 300) resolve();
        }
        rest = rest.subarray(i);
      });
      b.resume();
    });
    expect(rows).toEqual(Array(300).fill(2 + 4 + (1 << 20)));
    b.end(serialize.end());
  });

  it('refuses a read larger than it holds at once with 54000, and the session goes on', async () => {
    const b = await openSqliteBackend(file, { user: 'u', database: 'd' }, { resultLimit: 1 << 20 });
    await roundTrip(b, [], 1);
    await roundTrip(b, [serialize.query(`CREATE TABLE wide (id integer PRIMARY KEY, v text)`)]);
    await roundTrip(b, [serialize.parse({ text: 'INSERT INTO wide VALUES ($1, $2)' }), ...[1, 2, 3].flatMap((id) => [serialize.bind({ values: [String(id), 'w'.repeat(400_000)] }), serialize.execute()]), serialize.sync()]);
    const all = await roundTrip(b, [serialize.query('SELECT v FROM wide')]);
    const refused = all.find((m) => m.type === 'E')!;
    expect(errorCode(refused)).toBe('54000');
    expect(refused.body.toString()).toContain('the result is larger than the SQLite source answers at once (1 MB after 3 rows)');
    const two = await roundTrip(b, [serialize.query('SELECT v FROM wide ORDER BY id LIMIT 2')]);
    expect(two.map((m) => m.type)).toEqual(['T', 'D', 'D', 'C', 'Z']);
    b.end(serialize.end());
  });

  it('suspends a portal at the row limit and resumes it', async () => {
    const b = await open();
    const reply = await roundTrip(b, [
      serialize.parse({ text: 'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5) SELECT x FROM n' }),
      serialize.bind({}),
      serialize.execute({ rows: 2 }),
      serialize.execute({ rows: 2 }),
      serialize.execute({ rows: 2 }),
      serialize.sync(),
    ]);
    expect(reply.map((m) => m.type)).toEqual(['1', '2', 'D', 'D', 's', 'D', 'D', 's', 'D', 'C', 'Z']);
    b.end(serialize.end());
  });

  it('after an error skips to Sync, and refuses function calls cleanly', async () => {
    const b = await open();
    const reply = await roundTrip(b, [
      serialize.parse({ text: 'SELECT * FROM nowhere' }),
      serialize.bind({}),
      serialize.execute(),
      serialize.sync(),
      serialize.query(''),
    ], 2);
    expect(reply.map((m) => m.type)).toEqual(['E', 'Z', 'I', 'Z']);
    expect(errorCode(reply[0]!)).toBe('42P01');
    const fcall = Buffer.from([0x46, 0, 0, 0, 4 + 4 + 2 + 2 + 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    const refused = await roundTrip(b, [fcall]);
    expect(refused.map((m) => m.type)).toEqual(['E', 'Z']);
    expect(errorCode(refused[0]!)).toBe('0A000');
    b.end(serialize.end());
  });

  it('describes statements with parameter types taken from casts and columns', async () => {
    const b = await open();
    await roundTrip(b, [serialize.query('CREATE TABLE IF NOT EXISTS p (id bigint PRIMARY KEY, ok boolean, at timestamptz)')]);
    const reply = await roundTrip(b, [
      serialize.parse({ name: 'd', text: 'SELECT id, ok, $3::text AS note FROM p WHERE ok = $1 AND id > $2' }),
      serialize.describe({ type: 'S', name: 'd' }),
      serialize.sync(),
    ]);
    expect(reply.map((m) => m.type)).toEqual(['1', 't', 'T', 'Z']);
    const pd = reply[1]!.body;
    expect([pd.readUInt32BE(2), pd.readUInt32BE(6), pd.readUInt32BE(10)]).toEqual([16, 20, 25]);
    b.end(serialize.end());
  });
});
