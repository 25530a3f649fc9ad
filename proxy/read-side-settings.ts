// A routed read must be rendered as the source would have rendered it. The
// new database's defaults (its postgresql.conf, ALTER DATABASE/ROLE … SET)
// need not match the source's: a target with TimeZone 'Asia/Tokyo' and
// DateStyle 'SQL, DMY' answered `02/01/2020 12:04:05 JST` where the source
// said `2020-01-02 03:04:05+00`. The session's read connection therefore
// starts with the source session's defaults for the settings that shape an
// answer, taken from the source (pg_settings.reset_val: what RESET returns
// to, the client's own start-up parameters included) and given as start-up
// parameters, so that RESET and DISCARD ALL on the target return to them too.
import { Collect, type BackendLink } from './backend-link.ts';
import { queryMessage } from './messages.ts';
import { SessionSettings } from './sqlite/catalog.ts';

/** Settings that change the text or the rows of an answer, not only its plan. */
export const ANSWER_SETTINGS = [
  'DateStyle', 'IntervalStyle', 'TimeZone', 'bytea_output', 'extra_float_digits', 'search_path',
  'standard_conforming_strings', 'default_text_search_config', 'lc_monetary', 'lc_numeric', 'lc_time',
  'xmlbinary', 'xmloption', 'timezone_abbreviations', 'transform_null_equals', 'row_security',
] as const;

/**
 * Limits a statement runs under: a read routed to the new database must not
 * be cancelled by the new database's own defaults (ALTER DATABASE/ROLE … SET
 * statement_timeout there) where the source would have answered it; the client
 * got 57014 or 55P03, errors of the new database alone. The idle timeout
 * goes along for a read-only transaction routed whole; the mirroring relay
 * also learns from these whether the session has timeouts at all
 * (Relay.liftSettings).
 */
export const READ_LIMITS = ['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout'] as const;

/**
 * Asked with the defaults, never given to a read connection: what the relay
 * learns of the session (Relay.liftSettings). An SQLite engine's
 * default_transaction_isolation (serializable, SQLite's own) given to the
 * new database's connections made its writers fail 40001 after promote.
 */
export const SESSION_FACTS = ['default_transaction_isolation'] as const;

/** The defaults a read connection starts with: those of `defaults` that are not SESSION_FACTS. */
export function readConnectionSettings(defaults: Record<string, string>): Record<string, string> {
  const out = { ...defaults };
  for (const name of SESSION_FACTS) delete out[name];
  return out;
}

const resetValues = (names: readonly string[]) => `SELECT name, reset_val FROM pg_catalog.pg_settings WHERE lower(name) IN (${names.map((n) => `'${n.toLowerCase()}'`).join(', ')})`;

/** ANSWER_SETTINGS' values a session returns to on RESET, by name: `cutover check` compares the two databases' with it. */
export const ANSWER_SETTINGS_QUERY = resetValues(ANSWER_SETTINGS);

/** What a read connection starts with, taken from the source session, and the SESSION_FACTS. */
const READ_DEFAULTS_QUERY = resetValues([...ANSWER_SETTINGS, ...READ_LIMITS, ...SESSION_FACTS]);

/** The source session's defaults for ANSWER_SETTINGS, READ_LIMITS and SESSION_FACTS; none if it cannot say (the read connection then starts with its own). */
export async function sourceDefaults(source: BackendLink): Promise<Record<string, string>> {
  const c = new Collect();
  source.request(queryMessage(READ_DEFAULTS_QUERY), c);
  try {
    await c.done;
  } catch {
    return {};
  }
  if (c.error) return {};
  const out: Record<string, string> = {};
  for (const [name, value] of c.rows) if (name && typeof value === 'string') out[name] = value;
  return out;
}

/**
 * An SQLite source's session defaults for ANSWER_SETTINGS: the engine's own
 * (PostgreSQL's defaults, TimeZone UTC) with the client's start-up
 * parameters, as the engine session took them.
 */
export function engineDefaults(user: string, database: string, startup: Record<string, string>): Record<string, string> {
  let settings: SessionSettings;
  try {
    settings = new SessionSettings(user, database, startup);
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  for (const name of [...ANSWER_SETTINGS, ...READ_LIMITS]) {
    const v = settings.get(name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** A session start-up's defaults are taken again after this long: ALTER ROLE/DATABASE … SET reaches new read connections within it. */
const DEFAULTS_TTL_MS = 10_000;
/** Distinct start-ups remembered at most (each client's own parameters make one). */
const DEFAULTS_KEPT = 1_000;

/**
 * The source's defaults by session start-up (user, database, the client's
 * parameters), for a few seconds. Every session of one application starts up
 * alike, and the pg_settings query cost more than the routed read it served
 * (2.5 ms on a loaded machine, before a read of 0.8 ms): a session whose read
 * connection is handed on from an ended one (parked-reads.ts) asks nothing.
 */
export class DefaultsCache {
  private readonly byStartup = new Map<string, { at: number; value: Record<string, string> }>();

  async get(startup: string, load: () => Promise<Record<string, string>>): Promise<Record<string, string>> {
    const hit = this.byStartup.get(startup);
    if (hit && Date.now() - hit.at < DEFAULTS_TTL_MS) return hit.value;
    const value = await load();
    // nothing learned (the source could not say): asked again next time
    if (!Object.keys(value).length) return value;
    if (this.byStartup.size >= DEFAULTS_KEPT) this.byStartup.clear();
    this.byStartup.set(startup, { at: Date.now(), value });
    return value;
  }
}
