// A row PostgreSQL refuses (a unique value only it holds), written to the
// SQLite file beside the proxy: its re-sync failed the drainer's whole batch
// on every pass, so every row written after it, to any table, never reached
// PostgreSQL, and reads were not tripped. Now the refused key waits alone,
// the rest arrives, reads trip, and the key follows once PostgreSQL takes it.
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql } from '../harness/databases.ts';
import { startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

let m: SqliteMirror;

beforeAll(async () => {
  m = await startSqliteMirror('sqlite_drainer_refused', `
    CREATE TABLE u (id INTEGER PRIMARY KEY, code TEXT UNIQUE);
    CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);`, { reads: 100 });
  await sql(m.targetUrl, `INSERT INTO u VALUES (1000, 'X')`);
});
afterAll(async () => {
  await m?.close();
});

/** `q`'s rows on PostgreSQL once `ok` holds for them, or the last seen after `withinMs`. */
async function onTarget(q: string, ok: (rows: unknown[]) => boolean, withinMs = 20_000): Promise<unknown[]> {
  let rows: unknown[] = [];
  for (const deadline = Date.now() + withinMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    rows = (await sql(m.targetUrl, q)).rows;
    if (ok(rows)) break;
  }
  return rows;
}

function waiting(): unknown[] {
  const db = new Database(m.file, { readonly: true });
  try {
    return db.prepare('SELECT tbl, pk FROM _cutover_changes ORDER BY seq').all();
  } finally {
    db.close();
  }
}

it('a row PostgreSQL refuses holds back nothing written after it, stays queued, trips reads, and arrives once taken', async () => {
  const other = new Database(m.file);
  other.exec(`INSERT INTO u VALUES (1, 'X'); INSERT INTO t VALUES (1, 'behind'), (2, 'behind too');`);
  other.close();
  expect(await onTarget('SELECT id::int, v FROM t ORDER BY id', (r) => r.length === 2)).toEqual([{ id: 1, v: 'behind' }, { id: 2, v: 'behind too' }]);
  expect(waiting()).toEqual([{ tbl: '"public"."u"', pk: expect.stringMatching(/^{"id":"?1"?}$/) }]);
  expect(m.tp.live.get().tripped).toMatch(/mirror write failed/);
  await sql(m.targetUrl, `DELETE FROM u WHERE id = 1000`);
  expect(await onTarget('SELECT id::int, code FROM u ORDER BY id', (r) => r.length === 1 && (r[0] as { id: number }).id === 1)).toEqual([{ id: 1, code: 'X' }]);
});
