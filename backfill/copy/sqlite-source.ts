// Reading batches from an SQLite source. A batch is read inside a write
// transaction (BEGIN IMMEDIATE) that stays open until the target committed the
// batch: SQLite has one writer, so the proxy's mirrored writes to those rows
// wait for the batch and then reach the target after it; none is lost and a
// deleted row is never brought back. Waiting for the lock never blocks the
// event loop: SQLITE_BUSY is retried on a timer.
import Database from 'better-sqlite3';
import type { TableDef } from '../schema/model.ts';
import { copiedColumns, qi } from '../schema/model.ts';
import type { Key } from './keys.ts';
import { sqliteCopyLine } from './sqlite-copy-text.ts';

const EMPTY = Buffer.alloc(0);

export interface SqliteBatch {
  text: Buffer;
  rows: number;
  last: Key | null;
  /** Whether the batch stopped at its row or byte limit (more rows may follow). */
  full: boolean;
}

const LOCK_WAIT_MS = 30_000;

export function openSqlite(path: string, readonly = false): Database.Database {
  const db = new Database(path, { readonly, fileMustExist: true });
  db.defaultSafeIntegers(true);
  if (!readonly) db.pragma('busy_timeout = 0'); // we wait ourselves, off the event loop
  return db;
}

export class SqliteBatchReader {
  private stmts = new Map<string, Database.Statement>();

  constructor(readonly db: Database.Database) {}

  /** Takes SQLite's write lock, waiting for other writers without blocking the event loop. */
  async lock(): Promise<void> {
    const started = Date.now();
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      try {
        this.db.exec('BEGIN IMMEDIATE');
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() - started > LOCK_WAIT_MS) throw e;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  unlock(): void {
    if (this.db.inTransaction) this.db.exec('COMMIT');
  }

  /** Up to `limit` rows (and about `maxBytes` of text) after `after`, as COPY text, in key order. */
  read(t: TableDef, after: Key | null, limit: number, maxBytes: number): SqliteBatch {
    const stmt = this.statement(t, after !== null);
    const params = after ? [...after, limit] : [limit];
    const parts: string[] = [];
    let bytes = 0;
    let rows = 0;
    let lastRow: unknown[] | null = null;
    for (const r of stmt.iterate(...params) as IterableIterator<unknown[]>) {
      const line = r[0] as string;
      parts.push(line);
      bytes += line.length + 1;
      rows++;
      lastRow = r;
      if (bytes >= maxBytes) break;
    }
    // handed over as bytes at once: the strings die young instead of piling up in the old generation
    return { text: rows ? Buffer.from(parts.join('\n') + '\n') : EMPTY, rows, last: lastRow ? (lastRow.slice(1) as Key) : null, full: rows === limit || bytes >= maxBytes };
  }

  private statement(t: TableDef, after: boolean): Database.Statement {
    const id = `${t.name}:${after}`;
    let s = this.stmts.get(id);
    if (!s) {
      const keys = t.key.map(qi).join(', ');
      const where = after ? `WHERE (${keys}) > (${t.key.map(() => '?').join(', ')})` : '';
      s = this.db.prepare(`SELECT ${sqliteCopyLine(copiedColumns(t))}, ${keys} FROM ${qi(t.name)} ${where} ORDER BY ${keys} LIMIT ?`).raw(true);
      this.stmts.set(id, s);
    }
    return s;
  }
}
