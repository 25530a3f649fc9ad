// A cancel of a read routed to the new database, on an SQLite source: the
// client cancels with the key the SQLite engine gave it, which only the
// engine heard (it stops its own pg_sleep); the routed read ran on to its end.
import { afterAll, beforeAll, expect, it } from 'vitest';
import postgres from 'postgres';
import { startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';
import { lockedAt } from '../mirror/mirrored-pair.ts';

let m: SqliteMirror;

beforeAll(async () => {
  m = await startSqliteMirror('sqlite_cancel_routed', `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)`, { reads: 100 });
});
afterAll(() => m?.close());

it('reaches the new database and answers 57014 at once', { timeout: 20_000 }, async () => {
  const db = postgres(m.url(), { max: 1, onnotice: () => undefined });
  // the table locked on the new database: a read of it routed there waits until cancelled
  const release = await lockedAt(m.targetUrl, 'items');
  try {
    const started = Date.now();
    const q = db`SELECT count(*) AS n FROM items`;
    setTimeout(() => void q.cancel(), 500);
    const err = (await q.catch((e: unknown) => e)) as { code?: string };
    expect(err.code).toBe('57014');
    expect(Date.now() - started).toBeLessThan(3_000);
  } finally {
    await release();
  }
  // the session goes on, and the new database is not blamed for the client's cancel
  expect((await db`SELECT count(*)::int AS n FROM items`)[0]!.n).toBe(0);
  expect(m.tp.live.get().tripped).toBeNull();
  await db.end({ timeout: 1 });
});
