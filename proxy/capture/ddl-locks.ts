// DDL on tables a live application (or the mirror's appliers) writes to.
// CREATE and DROP TRIGGER take a lock that conflicts with every writer's. An
// unbounded wait queues every writer behind it, and with several tables taken
// in another order than some writer's, ends in a deadlock which the server may
// settle by cancelling the application's transaction or a mirror apply (seen:
// the promote's probe of the reverse mirror failing with 40P01 under writes).
// So each attempt waits for a lock at most half of deadlock_timeout (and never
// more than LOCK_WAIT_MS): ours is the wait that gives up, before the deadlock
// check runs in anyone's session. The whole transaction is then retried, as
// online schema-change tools do, until the budget is spent.
import type pg from 'pg';

const LOCK_WAIT_MS = 200;
const DEFAULT_BUDGET_MS = 30_000;
const BUSY = new Set(['55P03', '40P01']);

export class TablesBusyError extends Error {
  readonly code = '55P03';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Run `body` inside BEGIN … `end` (COMMIT, or ROLLBACK for a probe), retried
 * whole while a table lock could not be had. `deadline` (epoch ms) bounds the
 * retries; after it, a TablesBusyError says what was being done.
 */
export async function inDdlTransaction<T>(
  db: pg.ClientBase,
  what: string,
  body: () => Promise<T>,
  opts: { end?: 'COMMIT' | 'ROLLBACK'; deadline?: number } = {},
): Promise<T> {
  const deadline = opts.deadline ?? Date.now() + DEFAULT_BUDGET_MS;
  let lastBusy = '';
  for (let attempt = 1; ; attempt++) {
    await db.query('BEGIN');
    try {
      await db.query(
        `SELECT set_config('lock_timeout', greatest(1, least(${LOCK_WAIT_MS}, (SELECT setting::int / 2 FROM pg_settings WHERE name = 'deadlock_timeout')))::text, true)`,
      );
      const out = await body();
      await db.query(opts.end ?? 'COMMIT');
      return out;
    } catch (e) {
      await db.query('ROLLBACK').catch(() => undefined);
      const code = (e as { code?: string }).code;
      if (!code || !BUSY.has(code)) throw e;
      lastBusy = (e as Error).message;
      const pause = Math.min(500, 25 * attempt) + Math.floor(Math.random() * 50);
      if (Date.now() + pause >= deadline) {
        throw new TablesBusyError(`${what}: tables stayed locked by other transactions for ${attempt} attempt(s) (${lastBusy}); nothing was changed, try again when writes are lighter`);
      }
      await sleep(pause);
    }
  }
}
