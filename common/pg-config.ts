// node-postgres connection settings from an operator's URL, with libpq's
// meaning of sslmode (node-postgres alone reads `require` as `verify-full`).
import pg, { type ClientConfig } from 'pg';
import { nameDatabaseError } from './errors.ts';
import { databaseLabel, parseDbUrl } from './urls.ts';

/**
 * The settings row text depends on, fixed for every session that writes or reads rows as text for the mirror.
 * datestyle: an array's text (captured as text, pg-capture.ts) spells its dates as the session's datestyle
 * says, and a date written 'SQL, DMY' was read back by the mirror in another order. 'ISO' sets the output
 * form only: the session keeps its day/month order for reading ambiguous input.
 * TimeZone: a timestamptz is written with the session's offset, and a key's text is its identity for the
 * drainer (the row it reads back by key is matched to the change row by text, and capture format 6 locks
 * the key's bucket by its text's hash): a key written from Asia/Tokyo and read back in UTC did not match.
 */
export const STABLE_TEXT_SETTINGS = { extra_float_digits: '3', intervalstyle: 'postgres', bytea_output: 'hex', datestyle: 'ISO', TimeZone: 'UTC' } as const;

/** Zone names PostgreSQL knows as UTC itself (offset 0, no daylight time): a session in one already writes UTC text. */
export const UTC_ZONES = ['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'UCT', 'Etc/UCT', 'Universal', 'Etc/Universal', 'Zulu', 'Etc/Zulu', 'GMT0', 'Etc/GMT0', 'Greenwich', 'Etc/Greenwich'];

/** The same as startup `options` (the capture triggers set them on themselves: pg-capture.ts). */
export const STABLE_TEXT_OPTIONS = Object.entries(STABLE_TEXT_SETTINGS).map(([k, v]) => `-c ${k}=${v}`).join(' ');

/**
 * Startup options of every session of the tool's own: row text in one form (STABLE_TEXT_OPTIONS), and READ
 * COMMITTED whatever the database's default. The drainer's, the copy's and the apply's transactions are written
 * for it (FOR SHARE locks, re-reads after a lock): under a default of SERIALIZABLE (ALTER DATABASE … SET
 * default_transaction_isolation) the drainer's reads of the change table and of the rows it re-reads failed the
 * application's own serializable writers, on rows unrelated to each other, with 40001. Explicit isolation
 * (verify's REPEATABLE READ snapshot) is unaffected.
 */
export const TOOL_SESSION_OPTIONS = `${STABLE_TEXT_OPTIONS} -c default_transaction_isolation=read\\ committed`;

export function pgClientConfig(url: string, extra: ClientConfig = {}): ClientConfig {
  const u = parseDbUrl(url);
  if (u.kind !== 'postgres') throw new Error(`expected a postgres:// URL, got ${u.kind}`);
  let ssl: ClientConfig['ssl'] = false;
  switch (u.sslmode) {
    case 'require':
    case 'prefer':
    case 'allow':
      ssl = u.sslmode === 'require' ? { rejectUnauthorized: false } : false;
      break;
    case 'verify-ca':
      ssl = { rejectUnauthorized: true, checkServerIdentity: () => undefined };
      break;
    case 'verify-full':
      ssl = { rejectUnauthorized: true };
      break;
    default:
      ssl = false;
  }
  // the tool's own sessions read and write row text (copy, mirror, verify): in one form, whatever the
  // database's defaults (an interval in sql_standard style is read back with the wrong sign in another)
  return { host: u.host, port: u.port, user: u.user, password: u.password, database: u.database, ssl, options: TOOL_SESSION_OPTIONS, ...extra };
}

/**
 * A client whose connection errors say which database failed: the driver's own
 * "connect ECONNREFUSED 127.0.0.1:5432" or "password authentication failed"
 * names neither the role nor the database.
 */
class NamedClient extends pg.Client {
  constructor(config: ClientConfig, private readonly label: string) {
    super(config);
  }

  override connect(): Promise<pg.Client>;
  override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
  override connect(callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): Promise<pg.Client> | void {
    // the driver's own overloads: an error, or null and the client
    const prefix = `cannot connect to the ${this.label}`;
    if (callback) return super.connect((err: Error | null) => (callback as (err: Error | null, c?: pg.Client) => void)(err ? nameDatabaseError(err, prefix) : null, this));
    return super.connect().catch((e: unknown) => {
      throw nameDatabaseError(e, prefix);
    });
  }
}

/** A node-postgres client for an operator's URL (pgClientConfig) whose connect errors name the database. */
export function pgClient(url: string, extra: ClientConfig = {}): pg.Client {
  return new NamedClient(pgClientConfig(url, extra), databaseLabel(url));
}

/** A node-postgres pool for an operator's URL whose connections' connect errors name the database, as pgClient's. */
export function pgPool(url: string, extra: pg.PoolConfig = {}): pg.Pool {
  const label = databaseLabel(url);
  // the pool builds its clients itself, with its options as their only argument
  const Client = class extends NamedClient {
    constructor(config: ClientConfig) {
      super(config, label);
    }
  };
  return new pg.Pool({ ...pgClientConfig(url), ...extra, Client: Client as unknown as new () => pg.ClientBase });
}

/** The rows of one catalog query on a connection of its own, closed after (the proxy's catalog readers). */
export async function catalogRows<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const c = pgClient(url, { application_name: 'cutover catalog' });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return (await c.query<R>(text)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}
