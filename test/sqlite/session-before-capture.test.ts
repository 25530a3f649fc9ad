// A session opened on an SQLite source before capture existed (the application's
// pool at NOT_STARTED) moves to apply-before-commit at its next transaction
// boundary once capture is installed: its writes reach PostgreSQL before the
// acknowledgement, through the session (the guard counts them), not later
// through the out-of-band drainer. (Its start-up ReadyForQuery once counted as
// an answered request, the session never looked idle and stayed on the plain
// relay, which also kept promote waiting for it.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import Database from 'better-sqlite3';
import { installSqliteCapture } from '../../proxy/capture/sqlite-capture.ts';
import { sql } from '../harness/databases.ts';
import { startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

let m: SqliteMirror;
beforeAll(async () => {
  m = await startSqliteMirror('sqlite_before_capture', 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', { capture: false });
});
afterAll(async () => {
  await m?.close();
});

describe('SQLite session opened before capture', () => {
  it('is idle between requests and mirrors before commit once capture is installed', async () => {
    const c = new pg.Client({ connectionString: m.url() });
    await c.connect();
    await c.query(`INSERT INTO t VALUES (1, 'before capture')`);
    expect(m.tp.proxy.busySessions()).toBe(0);
    const db = new Database(m.file);
    await installSqliteCapture(db);
    db.close();
    for (let i = 0; i < 50 && !m.tp.live.get().mirroring; i++) await new Promise((r) => setTimeout(r, 100));
    expect(m.tp.live.get().mirroring).toBe(true);
    const before = m.tp.proxy.guard!.stats.applies;
    await c.query(`INSERT INTO t VALUES (2, 'after capture')`);
    // on PostgreSQL at the acknowledgement, applied by the session itself
    expect((await sql(m.targetUrl, 'SELECT v FROM t WHERE id = 2')).rows).toEqual([{ v: 'after capture' }]);
    expect(m.tp.proxy.guard!.stats.applies).toBe(before + 1);
    expect(m.tp.proxy.busySessions()).toBe(0);
    await c.end();
  });
});
