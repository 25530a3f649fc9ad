// What a PostgreSQL server answers about itself: session settings (SET/SHOW/
// RESET and the ParameterStatus they report), the functions drivers call on
// connect (version(), current_setting(), set_config(), …) registered as SQLite
// functions on the session's connection, and a small pg_catalog (an attached
// in-memory database) for the type lookups drivers make.
import { zoneNamed } from './time-zone.ts';
import type Database from 'better-sqlite3';
import { PgError } from './errors.ts';
import { PG_SETTINGS } from './pg-settings.ts';
import { normaliseSetting, settingMs } from './setting-units.ts';
import { asBool, OID, typeSize, type SqlValue } from './types.ts';

export const SERVER_VERSION = '15.0 (Cutover SQLite)';

/** Settings reported to the client with ParameterStatus, in their reported spelling. */
const REPORTED: Record<string, string> = {
  application_name: 'application_name', client_encoding: 'client_encoding', datestyle: 'DateStyle',
  intervalstyle: 'IntervalStyle', integer_datetimes: 'integer_datetimes', is_superuser: 'is_superuser',
  server_encoding: 'server_encoding', server_version: 'server_version', session_authorization: 'session_authorization',
  standard_conforming_strings: 'standard_conforming_strings', timezone: 'TimeZone',
};

/** A setting's name as PostgreSQL spells it (SHOW's column: TimeZone, DateStyle). */
export const settingName = (key: string): string => REPORTED[key] ?? key;

const READ_ONLY = new Set(['server_version', 'server_version_num', 'server_encoding', 'integer_datetimes', 'is_superuser', 'max_identifier_length']);

/** Why PostgreSQL refuses SET of a parameter it knows, by its context (pg-settings.ts). */
const NOT_SETTABLE: Partial<Record<string, string>> = {
  i: 'cannot be changed', p: 'cannot be changed without restarting the server', h: 'cannot be changed now',
  b: 'cannot be set after connection start', sb: 'cannot be set after connection start',
};

/**
 * SET, RESET and set_config() of `key` as PostgreSQL answers them: a name it
 * does not know is 42704 (one with a dot is a custom setting, any name goes),
 * one only the server's configuration sets is 55P02.
 */
export function checkSettable(key: string): void {
  if (READ_ONLY.has(key)) throw new PgError('55P02', `parameter "${key}" cannot be changed`);
  if (key.includes('.')) return;
  const known = PG_SETTINGS[key];
  if (!known) throw new PgError('42704', `unrecognized configuration parameter "${key}"`);
  const why = NOT_SETTABLE[known[0]];
  if (why) throw new PgError('55P02', `parameter "${key}" ${why}`);
}

function defaults(user: string): Map<string, string> {
  return new Map<string, string>([
    ['server_version', SERVER_VERSION], ['server_version_num', '150000'], ['server_encoding', 'UTF8'],
    ['client_encoding', 'UTF8'], ['datestyle', 'ISO, MDY'], ['intervalstyle', 'postgres'], ['integer_datetimes', 'on'],
    ['standard_conforming_strings', 'on'], ['timezone', 'UTC'], ['application_name', ''], ['is_superuser', 'off'],
    ['session_authorization', user], ['search_path', '"$user", public'], ['extra_float_digits', '1'],
    ['lock_timeout', '0'], ['statement_timeout', '0'], ['transaction_isolation', 'serializable'],
    ['default_transaction_isolation', 'serializable'], ['transaction_read_only', 'off'], ['max_identifier_length', '63'],
    ['bytea_output', 'hex'],
  ]);
}

export class SessionSettings {
  private values: Map<string, string>;
  private readonly initial: Map<string, string>;
  /** Reported settings changed since the last drain: the session sends ParameterStatus for them. */
  private changed = new Set<string>();

  constructor(readonly user: string, readonly database: string, startup: Record<string, string>) {
    this.values = defaults(user);
    for (const [k, v] of Object.entries(startup)) {
      if (k === 'user' || k === 'database') continue;
      if (k === 'options') {
        for (const m of v.matchAll(/(?:-c\s*|--)([\w.]+)=(\S+)/g)) this.set(m[1]!, m[2]!);
      } else this.set(k, v, false, true);
    }
    this.initial = new Map(this.values);
    this.changed.clear();
  }

  /** The value SHOW and current_setting() give: the session's, else PostgreSQL's default (pg-settings.ts). */
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    return this.values.get(key) ?? PG_SETTINGS[key]?.[1];
  }

  /** SHOW of a parameter without a value here: 42704 unknown, 42501 one PostgreSQL shows only to superusers. */
  show(name: string): string {
    const v = this.get(name);
    if (v !== undefined) return v;
    const key = name.toLowerCase();
    if (PG_SETTINGS[key]) throw new PgError('42501', `must be superuser or have privileges of pg_read_all_settings to examine "${key}"`);
    throw new PgError('42704', `unrecognized configuration parameter "${key}"`);
  }

  /** Told before a setting changes (the session keeps what its transaction found: SET is undone by ROLLBACK). */
  beforeChange?: (key: string, local: boolean) => void;

  /** `startup`: from the start-up packet, where a name PostgreSQL does not know is let through as before. */
  set(name: string, value: string | null, local = false, startup = false): void {
    const key = name.toLowerCase();
    if (startup) {
      if (READ_ONLY.has(key)) throw new PgError('55P02', `parameter "${name}" cannot be changed`);
    } else checkSettable(key);
    this.beforeChange?.(key, local);
    if (value === null) value = this.initial?.get(key) ?? defaults(this.user).get(key) ?? PG_SETTINGS[key]?.[1] ?? '';
    // PostgreSQL reads an encoding name without its other characters and case: asyncpg sends 'utf-8', quotes and all
    if (key === 'client_encoding' && !/^(utf8|unicode)$/.test(value.toLowerCase().replace(/[^a-z0-9]/g, ''))) {
      throw new PgError('0A000', `client_encoding ${value} is not supported by the SQLite source (only UTF8)`);
    }
    if (key === 'client_encoding') value = 'UTF8';
    if (key === 'standard_conforming_strings' && !/^(on|true|1)$/i.test(value)) {
      throw new PgError('0A000', 'standard_conforming_strings = off is not supported by the SQLite source');
    }
    value = normaliseSetting(key, value);
    if (key === 'timezone') zoneNamed(value); // 22023 for a zone that does not exist, before it is kept
    this.values.set(key, value);
    if (REPORTED[key]) this.changed.add(key);
  }

  /** Every value now, to go back to (a transaction's start, a savepoint). */
  snapshot(): Map<string, string> {
    return new Map(this.values);
  }

  /** Values back as `saved` had them: all, or only `keys` (SET LOCAL's at COMMIT). */
  restore(saved: Map<string, string>, keys?: Iterable<string>): void {
    for (const k of keys ?? new Set([...this.values.keys(), ...saved.keys()])) {
      const v = saved.get(k);
      if (this.values.get(k) === v) continue;
      if (v === undefined) this.values.delete(k);
      else this.values.set(k, v);
      if (REPORTED[k]) this.changed.add(k);
    }
  }

  resetAll(): void {
    for (const k of this.values.keys()) this.beforeChange?.(k, false);
    for (const [k, v] of this.initial) if (this.values.get(k) !== v && REPORTED[k]) this.changed.add(k);
    this.values = new Map(this.initial);
  }

  /** A duration setting's value in milliseconds (0: none). */
  ms(name: string): number {
    return settingMs(name, this.get(name) ?? '0');
  }

  /** The lock wait for this session: lock_timeout when set, else the engine's busy timeout. */
  lockTimeoutMs(fallback: number): number {
    const ms = this.ms('lock_timeout');
    return ms > 0 ? ms : fallback;
  }

  /** [reported name, value] of every reported setting (start-up). */
  reportedAll(): [string, string][] {
    return Object.entries(REPORTED).map(([k, shown]) => [shown, this.values.get(k) ?? '']);
  }

  /** [reported name, value] changed since the last call. */
  drainChanged(): [string, string][] {
    const out = [...this.changed].map((k): [string, string] => [REPORTED[k]!, this.values.get(k) ?? '']);
    this.changed.clear();
    return out;
  }
}

/** Registers the server-information functions on a session's connection. */
export function registerFunctions(db: Database.Database, s: SessionSettings, pid: number): void {
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  const full = `PostgreSQL ${SERVER_VERSION} on SQLite ${db.prepare('select sqlite_version()').pluck().get() as string}`;
  db.function('version', () => full);
  db.function('current_database', () => s.database);
  db.function('current_schema', () => 'public');
  db.function('cutover_user', () => s.user);
  db.function('pg_backend_pid', () => pid);
  db.function('current_setting', { varargs: true }, (...args: unknown[]) => {
    // missing_ok: NULL for a name PostgreSQL does not know
    if (args[1] && asBool(args[1] as SqlValue) === true && s.get(String(args[0])) === undefined) return null;
    return s.show(String(args[0]));
  });
  // set_config(name, value, is_local), as SET and SET LOCAL
  db.function('set_config', (name: unknown, value: unknown, local: unknown) => {
    s.set(String(name), text(value) ?? '', asBool(local as SqlValue) === true);
    return s.get(String(name)) ?? null;
  });
}

const CATALOG_TYPES: [string, number, string][] = [
  ['bool', OID.bool, 'B'], ['bytea', OID.bytea, 'U'], ['name', OID.name, 'S'], ['int8', OID.int8, 'N'], ['int2', OID.int2, 'N'],
  ['int4', OID.int4, 'N'], ['text', OID.text, 'S'], ['oid', OID.oid, 'N'], ['json', OID.json, 'U'], ['float4', OID.float4, 'N'],
  ['float8', OID.float8, 'N'], ['unknown', OID.unknown, 'X'], ['bpchar', OID.bpchar, 'S'], ['varchar', OID.varchar, 'S'],
  ['date', OID.date, 'D'], ['time', OID.time, 'D'], ['timestamp', OID.timestamp, 'D'], ['timestamptz', OID.timestamptz, 'D'],
  ['numeric', OID.numeric, 'N'], ['uuid', OID.uuid, 'U'], ['jsonb', OID.jsonb, 'U'],
];

/** pg_catalog with pg_type and pg_namespace: enough for drivers' type lookups (no array types: arrays are not supported). */
export function attachCatalog(db: Database.Database): void {
  db.exec(`ATTACH DATABASE ':memory:' AS pg_catalog;
    CREATE TABLE pg_catalog.pg_type (oid OID PRIMARY KEY, typname NAME, typnamespace OID, typlen SMALLINT, typtype CHAR,
      typcategory CHAR, typelem OID, typarray OID, typbasetype OID, typdelim CHAR, typrelid OID, typcollation OID);
    CREATE TABLE pg_catalog.pg_namespace (oid OID PRIMARY KEY, nspname NAME, nspowner OID, nspacl TEXT);
    INSERT INTO pg_catalog.pg_namespace VALUES (11, 'pg_catalog', 10, NULL), (2200, 'public', 6171, NULL);`);
  const ins = db.prepare(`INSERT INTO pg_catalog.pg_type VALUES (?, ?, 11, ?, 'b', ?, 0, 0, 0, ',', 0, 0)`);
  for (const [name, oid, cat] of CATALOG_TYPES) ins.run(oid, name, typeSize(oid), cat);
}
