// One configuration for every command. Precedence: command-line flags, then
// CUTOVER_* environment variables, then the --config JSON file, then defaults.
// Unknown keys and bad values are errors that name the key.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { nameDatabases, parseDbUrl, placeOf, rememberSecret, UrlError } from './urls.ts';

const dbUrl = z.string().superRefine((v, ctx) => {
  try {
    parseDbUrl(v);
  } catch (e) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as UrlError).message });
  }
});

// Flags and CUTOVER_* variables arrive as text, the --config file as JSON: both
// spellings are read, nothing else. z.coerce would take "false" as true, null
// and "" as 0, and "0x32" as 50.
const DECIMAL = /^\s*-?(\d+\.?\d*|\.\d+)\s*$/;
const num = () =>
  z.preprocess((v) => (typeof v === 'string' && DECIMAL.test(v) ? Number(v) : v), z.number({ invalid_type_error: 'expected a number' }));
const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);
const flag = () =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    const t = v.trim().toLowerCase();
    return TRUE.has(t) ? true : FALSE.has(t) ? false : v;
  }, z.boolean({ invalid_type_error: 'expected true or false' }));

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:6432')
  // five digits passed up to 99999: the proxy then failed after starting with Node's "options.port should be >= 0 and < 65536"
  // (0 stays: any free port, as for Node)
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'the port must be at most 65535');
const percent = num().pipe(z.number().int().min(0).max(100));

export const configSchema = z
  .object({
    source: dbUrl.optional(),
    target: dbUrl.optional(),
    listen: hostPort.default('127.0.0.1:6432'),
    control: hostPort.default('127.0.0.1:6480'),
    state: z.string().default('.cutover/state.db'),
    reads: percent.default(0),
    json: flag().default(false),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    token: z.string().min(1).optional(),

    // proxy
    tlsCert: z.string().optional(),
    tlsKey: z.string().optional(),
    auth: z.enum(['scram-sha-256', 'md5', 'trust']).default('scram-sha-256'),
    users: z.array(z.object({ name: z.string().min(1), password: z.string() }).strict()).optional(),
    databases: z.record(z.string(), z.object({ source: z.string().optional(), target: z.string().optional() }).strict()).optional(),
    maxMessageSize: num().pipe(z.number().int().min(1024)).default(64 * 1024 * 1024),
    drainTimeout: num().pipe(z.number().min(0)).default(30),
    route: z.enum(['auto', 'source', 'target']).default('auto'),
    shadowSample: num().pipe(z.number().min(0).max(1)).default(0),
    allowDdl: flag().default(false),
    /** Session connections to the new database for reads (per proxy): 0 for no limit, unset for one from its max_connections. */
    targetSessions: num().pipe(z.number().int().min(0)).optional(),
    /** synchronous_commit of the mirror's apply sessions; "off" is what PostgreSQL's own subscriptions use. */
    mirrorSynchronousCommit: z.enum(['on', 'off', 'local', 'remote_write', 'remote_apply']).default('on'),
    statementTimeout: num().pipe(z.number().min(0)).default(0),
    /** Proxy worker processes sharing the listener (node:cluster); 1 = in-process. */
    processes: num().pipe(z.number().int().min(1).max(64)).default(1),

    // control plane
    steps: z
      .array(percent)
      .nonempty()
      .refine((a) => a.every((p, i) => i === 0 || p > a[i - 1]!), 'expected rising percents, e.g. 10,25,50,100')
      .default([10, 25, 50, 75, 90, 100]),
    soak: num().pipe(z.number().min(0)).default(60),
    maxErrorRate: num().pipe(z.number().min(0).max(1)).default(0.01),
    maxMismatchRate: num().pipe(z.number().min(0).max(1)).default(0.001),
    maxLatencyRatio: num().pipe(z.number().min(0)).default(3),
    webhook: z.string().url().optional(),
    promoteTimeout: num().pipe(z.number().min(0)).default(10),

    // backfill / verify / check
    tables: z.array(z.string().min(1)).min(1, 'an empty list names no table').optional(),
    batchSize: num().pipe(z.number().int().min(1)).default(10_000),
    workers: num().pipe(z.number().int().min(1).max(64)).default(2),
    splitRows: num().pipe(z.number().int().min(1)).default(200_000),
    maxRate: num().pipe(z.number().min(0)).default(0),
    retryAttempts: num().pipe(z.number().int().min(0)).default(3),
    backupDir: z.string().default('.cutover/backups'),
    reportDir: z.string().default('.cutover/reports'),
    skipBackup: flag().default(false),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

export class ConfigError extends Error {}

const ARRAY_KEYS = new Set(['steps', 'tables']);
const JSON_KEYS = new Set(['users', 'databases']);

function envName(key: string): string {
  return 'CUTOVER_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

/** CUTOVER_* variables for every known key. Unknown CUTOVER_* variables are ignored (CUTOVER_PG_BIN etc. belong to tools). */
export function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const v = env[envName(key)];
    if (v === undefined || v === '') continue;
    if (ARRAY_KEYS.has(key)) out[key] = v.split(',').map((s) => s.trim()).filter(Boolean);
    else if (JSON_KEYS.has(key)) {
      try {
        out[key] = JSON.parse(v);
      } catch {
        throw new ConfigError(`${envName(key)}: not valid JSON`);
      }
    } else out[key] = v;
  }
  return out;
}

export function fromFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`--config ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`--config ${file}: not a JSON object (${(e as Error).message})`);
  }
}

/**
 * Merge the three layers and validate. `flags` holds only options the user
 * actually gave (commander's defaults must not mask env or file values).
 */
export function loadConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Config {
  const { config: file, ...rest } = flags;
  const configFile = (file as string | undefined) ?? env.CUTOVER_CONFIG;
  const layers = { ...(configFile ? fromFile(configFile) : {}), ...fromEnv(env), ...stripUndefined(rest) };
  const result = configSchema.safeParse(layers);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') throw new ConfigError(`unknown configuration key "${issue.keys.join('", "')}"`);
    const key = issue.path.join('.') || '(config)';
    throw new ConfigError(`invalid ${key}: ${issue.message}`);
  }
  const { source, target } = result.data;
  // a target pasted from the source passed every check: verify compared the database with itself ("equal"),
  // backfill copied nothing, and the proxy would mirror it onto itself
  if (source && target && placeOf(source) === placeOf(target)) {
    throw new ConfigError(`source and target are the same database (${placeOf(target)}): the target must be the new database`);
  }
  nameDatabases(result.data);
  // masked in every log line, answer and error from now on (redactUrl), as the database passwords are
  if (result.data.token) rememberSecret(result.data.token);
  rememberStatePassword(result.data.state);
  // written as the databases are (sqlite:///abs/path.db), it was taken for a relative path: a proxy kept its
  // state in ./sqlite:/abs/path.db, a file nobody looked for
  if (result.data.state.startsWith('sqlite:')) result.data.state = (parseDbUrl(result.data.state, 'state') as { path: string }).path;
  return result.data;
}

/** A Redis state URL's password (redis://:pw@host): a store's error may quote it outside the URL. */
function rememberStatePassword(state: string | undefined): void {
  if (!state || !/^rediss?:\/\//i.test(state)) return;
  try {
    rememberSecret(decodeURIComponent(new URL(state).password));
  } catch {
    // not a URL: the store refuses it, redacted (state/store.ts)
  }
}

/** Flags arrive as strings: lists are comma-separated. */
function stripUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(o)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, ARRAY_KEYS.has(k) && typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v]),
  );
}

export function requireKey<K extends keyof Config>(cfg: Config, key: K, flag = `--${String(key).replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`): NonNullable<Config[K]> {
  const v = cfg[key];
  if (v === undefined || v === null) throw new ConfigError(`missing ${flag} (or ${envName(String(key))}, or "${String(key)}" in --config)`);
  return v as NonNullable<Config[K]>;
}
