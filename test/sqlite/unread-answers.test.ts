// A client that sends one Query of many SELECTs and does not read the answers:
// the SQLite source waited for the client between messages, but made every
// result of one message at once, and the proxy's memory grew by all of them
// (80 SELECTs: 3.1 GB, and more once the client hung up). Each result now
// waits for room as a message's does. Memory is measured as the Buffer bytes
// of this process, where the test proxy and its SQLite engine run.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

let m: SqliteMirror;

beforeAll(async () => {
  // one row of 1 MB of text
  m = await startSqliteMirror('sqlite_unread_answers', `CREATE TABLE big (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO big VALUES (1, hex(zeroblob(524288)))`, { capture: true });
});
afterAll(() => m?.close());

it('200 results of 1 MB in one Query are not held by the proxy while the client does not read, and all arrive once it does', { timeout: 60_000 }, async () => {
  const c = new pg.Client({ connectionString: m.url() });
  await c.connect();
  try {
    const stream = (c as unknown as { connection: { stream: { pause(): void; resume(): void } } }).connection.stream;
    stream.pause();
    const before = process.memoryUsage().arrayBuffers;
    const answers = c.query('SELECT v FROM big;'.repeat(200)) as unknown as Promise<pg.QueryResult[]>;
    await new Promise((r) => setTimeout(r, 3_000));
    const grewMb = (process.memoryUsage().arrayBuffers - before) / (1 << 20);
    console.log(`proxy memory grew by ${grewMb.toFixed(1)} MB while 200 MB of answers waited`);
    stream.resume();
    const results = await answers;
    expect(grewMb).toBeLessThan(100);
    expect(results).toHaveLength(200);
    expect(results.every((r) => r.rows.length === 1 && (r.rows[0].v as string).length === 1 << 20)).toBe(true);
  } finally {
    await c.end();
  }
});
