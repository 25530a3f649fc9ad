// A COMMIT the source refuses after the mirror applied the transaction (here a
// deferred foreign key) is re-synced by its session at once. The mirror's
// ledger then finds the same transaction uncommitted, and the drainer warned,
// 2 s later, that "a proxy stopped between apply and COMMIT": an operator
// looking for a crash that never happened. The session now tells the drainer.
import { Writable } from 'node:stream';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;
const lines: string[] = [];

beforeAll(async () => {
  pair = await mirroredPair('commit_refused_log', `
    CREATE TABLE parent (id int PRIMARY KEY);
    CREATE TABLE child (id int PRIMARY KEY, p int REFERENCES parent DEFERRABLE INITIALLY DEFERRED)`);
  const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(c.toString()), cb()) }));
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl }, log);
  for (let i = 0; i < 50 && !tp.live.get().mirroring; i++) await new Promise((r) => setTimeout(r, 100));
  expect(tp.live.get().mirroring).toBe(true);
});
afterAll(async () => {
  await tp?.close();
});

it('a COMMIT the source refused after the apply is not reported as a stopped proxy, and the mirror ends without its rows', async () => {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query('INSERT INTO child VALUES (1, 42)');
    await expect(c.query('COMMIT')).rejects.toMatchObject({ code: '23503' });
    await c.query('INSERT INTO parent VALUES (7)');
  } finally {
    await c.end();
  }
  const refused = () => lines.some((l) => l.includes('source COMMIT was refused after the mirror applied them'));
  for (let i = 0; i < 200 && !refused(); i++) await new Promise((r) => setTimeout(r, 100));
  expect(refused()).toBe(true);
  expect(lines.filter((l) => l.includes('a proxy stopped between apply and COMMIT'))).toEqual([]);
  expect((await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM child')).rows[0].n).toBe(0);
  const onTarget = async () => (await sql(pair.targetUrl, 'SELECT count(*)::int AS n FROM child')).rows[0].n as number;
  for (let i = 0; i < 100 && (await onTarget()) !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect(await onTarget()).toBe(0);
});
