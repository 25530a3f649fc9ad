// Relations a routed read may not find current, or at all, on the other
// database: materialized views (each database refreshes its own; REFRESH
// changes no rows capture sees), sequences (moved past the source's only at
// promote), partitions (cutover schema makes the partitioned table a plain
// one: the mirror writes its rows through the table) and tables capture does
// not cover (the mirror never writes them; a PostgreSQL source's or an SQLite
// file's). A read naming one stays
// on the source of truth. Known from both databases' catalogues at start-up
// and every REFRESH_MS after (new ones are DDL, refused while mirroring), and
// again as soon as DDL the proxy let through (allowDdl) is committed: until
// then every read naming a relation stays on the source, since a table made
// there has no capture, and a copy of it the operator made on the new
// database would answer with rows the mirror never wrote.
import type { Logger } from '../../common/log.ts';
import { catalogRows } from '../../common/pg-config.ts';
import { parseDbUrl } from '../../common/urls.ts';
import { isUserSchema, SCHEMA } from '../capture/pg-capture.ts';
import { sqliteCaptureStatus } from '../capture/sqlite-capture.ts';
import { openSqlite } from '../../backfill/copy/sqlite-source.ts';

/** For DDL made past the proxy (allowDdl does not refuse it on the source either). */
const REFRESH_MS = 15_000;

const UNMIRRORED_SQL = `
  SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE (c.relkind IN ('m', 'S') OR c.relispartition) AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`;

/**
 * Tables of a database holding capture (the source of truth) that capture does
 * not cover: the mirror never writes them, so the other database's copy, if it
 * has one, is whatever a copy left there (configured `tables` narrower than
 * the schema). Nothing on a database without capture: the mirror, or no
 * migration yet.
 */
const UNCAPTURED_SQL = `
  SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE to_regclass('${SCHEMA}.changes') IS NOT NULL AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND ${isUserSchema('n.nspname')}
     AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname LIKE 'cutover_capture_%' AND NOT t.tgisinternal)`;

/**
 * Relations whose writes run code of the user's: a trigger (not capture's
 * own) or a rule. Its body may make a temporary table or SET something for
 * the session, as a function called in the statement may (Relay.verifySession).
 */
const TRIGGERED_SQL = `
  SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE ${isUserSchema('n.nspname')}
     AND (EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgname NOT LIKE 'cutover\\_capture\\_%')
       OR EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN'))`;

/** An SQLite file's tables capture does not cover, while it holds capture (as UNCAPTURED_SQL); its tables are `public` ones to clients. */
async function uncapturedInFile(file: string): Promise<{ schema: string; name: string }[]> {
  const db = openSqlite(file, true);
  try {
    const status = await sqliteCaptureStatus(db);
    return status.installed ? status.tables.filter((t) => !t.captured).map((t) => ({ schema: 'public', name: t.table })) : [];
  } finally {
    db.close();
  }
}

export class UnmirroredRelations {
  /** `schema.name` and the bare `name` (an unqualified read may find it through any search_path). */
  private names = new Set<string>();
  /** Relations with triggers or rules of the user's, named as `names` are. */
  private triggered = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  /** Sessions whose DDL is not yet committed or undone, and whether the sets predate DDL that was. */
  private changing = 0;
  private stale = false;
  /** Counts schema changes: a refresh that began before the latest one cannot clear `stale`. */
  private changes = 0;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(private readonly urls: string[], private readonly log: Logger) {}

  /** Whether a read naming these relations must stay on the source of truth. */
  touches(relations: string[] | undefined): boolean {
    if (this.stale) return Boolean(relations?.length);
    return Boolean(relations?.some((r) => this.names.has(r)));
  }

  /** A session's DDL went through; the returned function, called once its transaction has ended, reads the catalogues again. */
  changed(): () => void {
    this.changing++;
    this.changes++;
    this.stale = true;
    let once = false;
    return () => {
      if (once) return;
      once = true;
      this.changing--;
      this.changes++;
      void this.refreshLogged();
    };
  }

  /** Whether a write naming these relations may run a trigger or rule of the user's. */
  fires(relations: string[] | undefined): boolean {
    return Boolean(relations?.some((r) => this.triggered.has(r)));
  }

  async refresh(): Promise<void> {
    const began = this.changes;
    const next = new Set<string>();
    const triggered = new Set<string>();
    const add = (to: Set<string>, r: { schema: string; name: string }) => {
      to.add(`${r.schema}.${r.name}`);
      to.add(r.name);
    };
    for (const url of this.urls) {
      const db = parseDbUrl(url);
      const rows = db.kind === 'postgres' ? await catalogRows<{ schema: string; name: string }>(url, `${UNMIRRORED_SQL} UNION ALL ${UNCAPTURED_SQL}`) : await uncapturedInFile(db.path);
      for (const r of rows) add(next, r);
      if (db.kind === 'postgres') for (const r of await catalogRows<{ schema: string; name: string }>(url, TRIGGERED_SQL)) add(triggered, r);
    }
    this.names = next;
    this.triggered = triggered;
    if (this.changing === 0 && began === this.changes) this.stale = false;
  }

  /** One refresh at a time; asked for during one, another follows it (it may have read the catalogues too early). */
  private refreshLogged(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.refresh()
      .catch((e: Error) => this.log.debug({ reason: e.message }, 'could not list materialized views, sequences, partitions and uncaptured tables'))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          void this.refreshLogged();
        }
      });
    return this.running;
  }

  /** The first refresh now (a database that cannot be reached leaves the set as it was), then every REFRESH_MS. */
  async start(): Promise<void> {
    await this.refreshLogged();
    this.timer = setInterval(() => void this.refreshLogged(), REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
