// Change capture's operations on the database that holds it: the source of
// truth the state store records (the new database after promote), whichever
// its kind. Shared by `cutover capture` and the verify gate, which must know
// the tables capture mirrors.
import type { Config } from '../../common/config.ts';
import { requireKey } from '../../common/config.ts';
import { CliError } from '../../common/errors.ts';
import { parseDbUrl } from '../../common/urls.ts';

/** The same operations on either kind of source. */
export interface CaptureOps {
  status(): Promise<{ installed: boolean; ddlGuard?: boolean; pending: number; tables: { table: string; captured: boolean; hasKey: boolean }[]; format?: { installed: number | null; current: number } }>;
  install(only?: string[]): Promise<string[]>;
  remove(): Promise<number>;
}

export async function withSource<T>(url: string, fn: (ops: CaptureOps) => Promise<T>): Promise<T> {
  const src = parseDbUrl(url, 'source');
  const [{ CaptureError, captureStatus, installCapture, removeCapture }, { TablesBusyError }] = await Promise.all([import('./pg-capture.ts'), import('./ddl-locks.ts')]);
  try {
    if (src.kind === 'sqlite') {
      const [{ openSqliteFile }, { installSqliteCapture, removeSqliteCapture, sqliteCaptureStatus }] = await Promise.all([import('../../common/sqlite-file.ts'), import('./sqlite-capture.ts')]);
      const db = openSqliteFile(src.path, { fileMustExist: true });
      // a separate process: waiting for the proxy's writers by sleeping is fine here
      db.pragma('busy_timeout = 10000');
      try {
        return await fn({
          status: () => sqliteCaptureStatus(db),
          install: async (only) => (await installSqliteCapture(db, only)).map((t) => t.name),
          remove: async () => removeSqliteCapture(db),
        });
      } finally {
        db.close();
      }
    }
    const { pgClient } = await import('../../common/pg-config.ts');
    const c = pgClient(url);
    await c.connect();
    try {
      return await fn({
        status: () => captureStatus(c),
        install: async (only) => (await installCapture(c, only)).map((t) => `${t.schema}.${t.name}`),
        remove: () => removeCapture(c),
      });
    } finally {
      await c.end();
    }
  } catch (e) {
    if (e instanceof CaptureError || e instanceof TablesBusyError) throw new CliError(e.message);
    throw e;
  }
}

/**
 * The database capture belongs on: the source of truth, as the migration's
 * state store records it. After promote that is the new database (--target),
 * and the legacy one is the mirror, where triggers would only fill a change
 * table nothing drains. Legacy when there is no store yet (no proxy has run).
 */
export async function captureOn(cfg: Config): Promise<{ url: string; mirror: string | undefined; note: string }> {
  const source = requireKey(cfg, 'source');
  let side: string = 'legacy';
  try {
    const { openStateStore } = await import('../../control/state/store.ts');
    const store = await openStateStore(cfg.state, { existing: true });
    try {
      side = (await store.load()).sourceOfTruth;
    } finally {
      await store.close();
    }
  } catch {
    // no store (before the first proxy), or unreadable: the legacy database, as before promote
  }
  if (side !== 'new') return { url: source, mirror: cfg.target, note: '' };
  return { url: requireKey(cfg, 'target'), mirror: source, note: ' (on the new database: the source of truth since promote)' };
}
