// An SQLite source file for the key-order tests: a schema, then table t
// filled row by row in one transaction.
import path from 'node:path';
import Database from 'better-sqlite3';

/** `dir`/app.db with `schema`, t holding `row(g)` for g = 1 … n; `safeIntegers`: BigInt values bind as integers past 2^53. */
export function sqliteFile(dir: string, schema: string, n: number, row: (g: number) => unknown[], opts: { safeIntegers?: boolean } = {}): string {
  const file = path.join(dir, 'app.db');
  const db = new Database(file);
  if (opts.safeIntegers) db.defaultSafeIntegers(true);
  db.exec(schema);
  const ins = db.prepare(`INSERT INTO t VALUES (${row(1).map(() => '?').join(', ')})`);
  db.transaction(() => {
    for (let g = 1; g <= n; g++) ins.run(...row(g));
  })();
  db.close();
  return file;
}
