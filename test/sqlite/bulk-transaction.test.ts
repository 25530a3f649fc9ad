// An SQLite source's bulk transaction (more change rows than one drain
// takes) is left to the drainer after its commit, as with PostgreSQL: its
// change rows stay in the file, none sits in the proxy's memory, the commit
// succeeds, reads stay on the source, and the mirror catches up equal.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { DRAIN_LIMIT } from '../../proxy/capture/dialect.ts';
import { runVerify } from '../../backfill/verify/run-verify.ts';
import { sql } from '../harness/databases.ts';
import { startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

let m: SqliteMirror;

beforeAll(async () => {
  m = await startSqliteMirror('sqlite_bulk_txn', `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)`);
});
afterAll(async () => {
  await m?.close();
});

it('commits a transaction of more than the drain limit, then the mirror catches up equal', async () => {
  const c = new pg.Client({ connectionString: m.url() });
  await c.connect();
  try {
    await c.query('BEGIN');
    for (let from = 1; from <= 2 * DRAIN_LIMIT; from += 1000) {
      await c.query(`INSERT INTO items (id, name) VALUES ${Array.from({ length: 1000 }, (_, i) => `(${from + i}, 'item ${from + i}')`).join(', ')}`);
    }
    await c.query('COMMIT');
    expect(m.tp.live.get().tripped).toMatch(/more than 10000 rows/);
    let n = 0;
    for (let i = 0; i < 200 && n < 2 * DRAIN_LIMIT; i++) {
      n = (await sql(m.targetUrl, 'SELECT count(*)::int AS n FROM items')).rows[0].n;
      if (n < 2 * DRAIN_LIMIT) await new Promise((r) => setTimeout(r, 100));
    }
    expect((await runVerify({ source: m.source, target: m.targetUrl, recheckDelayMs: 10 })).equal).toBe(true);
  } finally {
    await c.end();
  }
}, 60_000);
