// Writers that bypass the proxy: another connection (another process, in
// effect) writes the SQLite file; its change rows wait in the file, `cutover
// check` reports them, and the proxy's drainer applies them to PostgreSQL.
// Also: an application trigger's side effects are captured with the write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import Database from 'better-sqlite3';
import { sql } from '../harness/databases.ts';
import { runVerify } from '../../backfill/verify/run-verify.ts';
import { runCheck } from '../../backfill/check/run-check.ts';
import { startSqliteMirror, type SqliteMirror } from './mirror-harness.ts';

const SCHEMA = `
  CREATE TABLE cases (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, docs INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE documents (id INTEGER PRIMARY KEY AUTOINCREMENT, case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE, body BLOB);
  -- the application's own bookkeeping, in SQLite
  CREATE TRIGGER documents_count AFTER INSERT ON documents BEGIN UPDATE cases SET docs = docs + 1 WHERE id = NEW.case_id; END;
`;

let m: SqliteMirror;
const equal = async () => (await runVerify({ source: m.source, target: m.targetUrl, recheckDelayMs: 10 })).equal;

beforeAll(async () => {
  m = await startSqliteMirror('sqlite_out_of_band', SCHEMA);
});
afterAll(async () => {
  await m?.close();
});

describe('SQLite source: out-of-band writers and trigger side effects', () => {
  it('captures what an application trigger changes, with the write that fired it', async () => {
    const c = new pg.Client({ connectionString: m.url() });
    await c.connect();
    try {
      const id = (await c.query("INSERT INTO cases (title) VALUES ('Doe v. Roe') RETURNING id")).rows[0].id;
      await c.query('INSERT INTO documents (case_id, body) VALUES ($1, $2)', [id, Buffer.from('%PDF-1.7')]);
      expect((await sql(m.targetUrl, 'SELECT docs::int FROM cases WHERE id = $1', [id])).rows).toEqual([{ docs: 1 }]);
    } finally {
      await c.end();
    }
    expect(await equal()).toBe(true);
  });

  it('drains rows another connection wrote to the file, and cutover check reports them while they wait', async () => {
    await m.tp.proxy.drainer!.stop(); // hold the drainer so the rows wait
    const other = new Database(m.file);
    other.pragma('foreign_keys = ON');
    other.exec(`INSERT INTO cases (title) VALUES ('cron import');
                UPDATE cases SET title = 'Doe v. Roe (appeal)' WHERE id = 1;
                INSERT INTO documents (case_id, body) VALUES (1, x'00ff');`);
    other.close();
    const report = await runCheck({ source: m.source, target: m.targetUrl, backupDir: '/tmp', skipBackup: true });
    const waiting = report.findings.filter((f) => f.check === 'capture');
    expect(waiting.length).toBeGreaterThan(0);
    expect(waiting.every((f) => f.severity === 'warning')).toBe(true);
    expect(waiting.find((f) => f.table === 'cases')).toMatchObject({ rows: 3, message: expect.stringContaining('3 written outside the proxy') });
    expect(await equal()).toBe(false);

    m.tp.proxy.drainer!.start();
    for (let i = 0; i < 50 && m.tp.proxy.drainer!.backlog + (await pendingRows()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await pendingRows()).toBe(0);
    expect((await sql(m.targetUrl, "SELECT title FROM cases ORDER BY id")).rows.map((r) => r.title)).toEqual(['Doe v. Roe (appeal)', 'cron import']);
    expect(await equal()).toBe(true);
    // a proxy write right after still mirrors before its commit
    const c = new pg.Client({ connectionString: m.url() });
    await c.connect();
    await c.query("UPDATE cases SET title = 'closed' WHERE id = 2");
    await c.end();
    expect((await sql(m.targetUrl, 'SELECT title FROM cases WHERE id = 2')).rows).toEqual([{ title: 'closed' }]);
    const after = await runCheck({ source: m.source, target: m.targetUrl, backupDir: '/tmp', skipBackup: true });
    expect(after.findings.filter((f) => f.check === 'capture')).toEqual([expect.objectContaining({ severity: 'info' })]);
  });
});

async function pendingRows(): Promise<number> {
  const db = new Database(m.file, { readonly: true });
  try {
    return Number(db.prepare('SELECT count(*) FROM _cutover_changes').pluck().get());
  } finally {
    db.close();
  }
}
