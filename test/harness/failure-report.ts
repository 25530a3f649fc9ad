// When a test fails, what both clusters were doing at that moment: every
// session not idle, what it waits on and who blocks it. Runs beside every
// test file (vitest setupFiles). Integration files share two clusters, so a
// wait that never ends, or a lock held by another file's session, only shows
// here; by the time anyone reads the log the state is gone.
import { beforeEach, inject } from 'vitest';
import pg from 'pg';

const ACTIVITY = `
  SELECT datname AS db, pid, application_name AS app, state, wait_event_type || ':' || wait_event AS wait,
         pg_blocking_pids(pid) AS blocked_by, backend_xid AS xid,
         round(extract(epoch FROM now() - xact_start)::numeric, 1) AS xact_s,
         left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
    FROM pg_stat_activity
   WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'
   ORDER BY xact_start NULLS LAST`;

async function activity(url: string): Promise<unknown> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000, statement_timeout: 5_000 });
  try {
    await c.connect();
    return (await c.query(ACTIVITY)).rows;
  } catch (e) {
    return `unavailable: ${(e as Error).message}`;
  } finally {
    await c.end().catch(() => undefined);
  }
}

beforeEach((ctx) => {
  ctx.onTestFailed(async () => {
    let legacy: string;
    let target: string;
    try {
      legacy = inject('legacy').url;
      target = inject('target').url;
    } catch {
      return; // a file with no clusters
    }
    const [l, t] = await Promise.all([activity(legacy), activity(target)]);
    const lines = (rows: unknown) => (Array.isArray(rows) ? rows.map((r) => '  ' + JSON.stringify(r)).join('\n') || '  (none)' : `  ${String(rows)}`);
    console.log(`sessions not idle when "${ctx.task.name}" failed:\nlegacy cluster:\n${lines(l)}\nnew cluster:\n${lines(t)}`);
  });
});
