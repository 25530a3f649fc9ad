// A change the new database refuses, written to the SQLite file outside the
// proxy: the drainer fails on it at every try (the changes behind it are
// applied: drainer-refused-rows.test.ts), and it waits in the file. The
// backlog status and the backlog gate read showed 0 meanwhile (it was counted
// after a good drain only).
import { afterAll, beforeAll, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import client from 'prom-client';
import { sql } from '../harness/databases.ts';
import { startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

let m: SqliteMirror;

beforeAll(async () => {
  m = await startSqliteMirror('sqlite_drain_backlog', `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)`);
  // the new database refuses one row the file may hold
  await sql(m.targetUrl, `ALTER TABLE items ADD CONSTRAINT refuse_666 CHECK (id <> 666)`);
});
afterAll(() => m?.close());

it('counts the change rows waiting behind a batch that fails', { timeout: 30_000 }, async () => {
  const drainer = m.tp.proxy.drainer!;
  // this test decides when a drain runs
  const drain = drainer.drainOnce.bind(drainer);
  drainer.drainOnce = async () => 0;
  const file = new Database(m.file);
  file.pragma('busy_timeout = 5000');
  file.exec(`INSERT INTO items VALUES (666, 'refused'); INSERT INTO items VALUES (1, 'after it')`);
  file.close();
  await expect(drain()).rejects.toThrow(/refuse_666/);
  expect(drainer.backlog).toBe(1);
  const gauge = (await client.register.getSingleMetric('cutover_drain_backlog')!.get()).values[0]!.value;
  expect(gauge).toBe(1);
});
