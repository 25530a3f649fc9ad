// `cutover check` on an SQLite source with capture installed: change rows
// waiting in the file were written by another process (out of band) or are
// keys to re-sync; the proxy's drainer applies them, and until then the
// target lacks those changes.
import type Database from 'better-sqlite3';
import type { Finding } from './findings.ts';

export function sqliteCaptureFindings(db: Database.Database): Finding[] {
  const installed = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_cutover_changes'`).pluck().get();
  if (!installed) return [];
  const byTable = db.prepare(`SELECT tbl, count(*) AS n, sum(op <> 'R') AS oob FROM _cutover_changes GROUP BY tbl ORDER BY tbl`).safeIntegers(false).all() as { tbl: string; n: number; oob: number }[];
  const total = byTable.reduce((a, t) => a + t.n, 0);
  if (!total) return [{ severity: 'info', check: 'capture', message: 'capture installed in the SQLite file; no change rows waiting' }];
  return byTable.map((t) => ({
    severity: 'warning' as const,
    check: 'capture',
    table: t.tbl.replace(/^"public"\."(.*)"$/, '$1').replace(/""/g, '"'),
    rows: t.n,
    message: `${t.n} change row(s) waiting in the SQLite file (${t.oob} written outside the proxy by another process, ${t.n - t.oob} key(s) to re-sync): the target lacks them until a running proxy's drainer applies them`,
  }));
}
