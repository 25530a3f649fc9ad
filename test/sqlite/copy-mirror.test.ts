// COPY … FROM STDIN through the mirroring proxy with an SQLite source: the
// rows a COPY writes reach the new database like any other write, a failed
// COPY leaves nothing on either side, and the two compare equal.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVerify } from '../../backfill/verify/run-verify.ts';
import { sql } from '../harness/databases.ts';
import { startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

const SCHEMA = `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price NUMERIC, seen TIMESTAMPTZ, flag BOOLEAN);`;

let m: SqliteMirror;

beforeAll(async () => {
  m = await startSqliteMirror('sqlite_copy_mirror', SCHEMA);
});
afterAll(async () => {
  await m?.close();
});

async function copyIn(c: pg.Client, text: string, data: string): Promise<void> {
  // cut into small CopyData messages, as a streaming client sends them
  const chunks: Buffer[] = [];
  const b = Buffer.from(data, 'utf8');
  for (let i = 0; i < b.length; i += 997) chunks.push(b.subarray(i, i + 997));
  await pipeline(Readable.from(chunks), c.query(copyFrom(text)));
}

const rowsOf = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, k) => `${from + k}\titem ${from + k}\t${(from + k) / 4}\t2024-03-10 0${k % 10}:00:00+00\t${k % 2 ? 't' : 'f'}\n`).join('');

describe('SQLite source: COPY FROM STDIN is mirrored', () => {
  it('autocommit and in a transaction block: every row on the new database; a failed COPY writes nothing anywhere', async () => {
    const c = new pg.Client({ connectionString: m.url() });
    await c.connect();
    try {
      await copyIn(c, 'COPY items FROM STDIN', rowsOf(1, 3000));
      await c.query('BEGIN');
      await copyIn(c, 'COPY items (id, name, flag) FROM STDIN (FORMAT csv)', '3001,"a, quoted",true\n3002,plain,\n');
      await c.query('COMMIT');
      // the last row repeats a key: the whole COPY is undone
      await expect(copyIn(c, 'COPY items FROM STDIN', rowsOf(4001, 4500) + rowsOf(4001, 4001))).rejects.toMatchObject({ code: '23505' });
      expect((await c.query('SELECT count(*)::int AS n FROM items')).rows).toEqual([{ n: 3002 }]);
    } finally {
      await c.end();
    }
    expect((await sql(m.targetUrl, 'SELECT count(*)::int AS n, sum(price)::float8 AS p FROM items')).rows).toEqual([{ n: 3002, p: (3000 * 3001) / 2 / 4 }]);
    expect((await sql(m.targetUrl, 'SELECT name, flag FROM items WHERE id IN (3001, 3002) ORDER BY id')).rows).toEqual([{ name: 'a, quoted', flag: true }, { name: 'plain', flag: null }]);
    expect((await runVerify({ source: m.source, target: m.targetUrl, recheckDelayMs: 10 })).equal).toBe(true);
  });
});
