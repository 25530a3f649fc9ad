// Database URLs as operators write them: postgres://user:pass@host:port/db,
// sqlite:///abs/path.db or sqlite:rel/path.db. Passwords never leave this
// module unredacted except through `toPgConfig`.
import path from 'node:path';

export type DbUrl =
  | { kind: 'postgres'; url: string; host: string; port: number; user: string; password: string; database: string; sslmode: string | undefined }
  | { kind: 'sqlite'; url: string; path: string };

export class UrlError extends Error {}

export function parseDbUrl(raw: string, what = 'database URL'): DbUrl {
  if (raw.startsWith('sqlite:')) {
    let rest = raw.slice('sqlite:'.length);
    if (rest.startsWith('//')) rest = rest.slice(2); // sqlite:///abs -> /abs
    if (!rest) throw new UrlError(`${what}: sqlite URL has no file path (expected sqlite:///abs/path.db or sqlite:rel/path.db)`);
    return { kind: 'sqlite', url: raw, path: path.resolve(decodeURIComponent(rest)) };
  }
  // without scheme:// the text may be anything, the password itself pasted in the wrong place ('pa:ss' read
  // as scheme "pa"): none of it is echoed
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) throw new UrlError(`${what}: not a URL (no scheme://) (expected postgres://user:pass@host:port/db or sqlite:///path.db)`);
  const encoded = encodeUserinfo(raw);
  let u: URL;
  try {
    u = new URL(encoded);
  } catch {
    throw new UrlError(`${what}: not a URL: ${redactUrl(raw)} (expected postgres://user:pass@host:port/db or sqlite:///path.db)`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new UrlError(`${what}: unsupported scheme "${u.protocol.replace(/:$/, '')}" (expected postgres:// or sqlite:)`);
  }
  if (!u.hostname) throw new UrlError(`${what}: missing host in ${redactUrl(raw)}`);
  const port = u.port ? Number(u.port) : 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UrlError(`${what}: bad port in ${redactUrl(raw)}`);
  // libpq reads `?password=` too, and a query parameter wins over the userinfo (it is parsed later)
  const password = u.searchParams.get('password') ?? decodeURIComponent(u.password);
  rememberSecret(password);
  rememberSecret(decodeURIComponent(u.password));
  const sslmode = u.searchParams.get('sslmode') ?? undefined;
  // libpq refuses a mode it does not know; taken as "no TLS" it would send the password in clear
  if (sslmode !== undefined && !SSLMODES.includes(sslmode)) {
    throw new UrlError(`${what}: invalid sslmode "${sslmode}" in ${redactUrl(raw)} (expected ${SSLMODES.join(', ')})`);
  }
  return {
    kind: 'postgres',
    url: encoded,
    host: decodeURIComponent(u.hostname),
    port,
    user: decodeURIComponent(u.username || 'postgres'),
    password,
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username || 'postgres'),
    sslmode,
  };
}

/** libpq's sslmode values, weakest first. */
export const SSLMODES: readonly string[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

// Passwords seen by parseDbUrl, masked where a driver's error quotes them outside a URL the
// structural passes below can read (a password with a space or '://' that splits the URL token).
// Short ones would mask ordinary words, so the structural passes are what covers them.
const knownSecrets = new Set<string>();

/** Remembers a secret (a password, the control token) for redactUrl, which masks it from then on. */
export function rememberSecret(secret: string): void {
  if (secret.length < 4) return;
  knownSecrets.add(secret);
  knownSecrets.add(encodeURIComponent(secret));
}

/**
 * A password that is an ordinary word ('postgres', 'secret'): masked in free text it turned every
 * `postgres://` into `***://` and every `user "postgres"` into `user "***"`, hiding what the
 * operator needs to read. Such a word is masked where it stands as a password: in a URL's userinfo
 * (even one the URL pass cannot read), after `password=`, as a JSON password. Anything else (a
 * digit, a symbol, a space, longer than a word) is masked wherever it appears.
 */
const ORDINARY_WORD = /^[a-z]{4,12}$/i;

const SCHEME = /[a-z][a-z0-9+.-]*:\/\//gi;

/** `password=...` (query string, libpq conninfo, quoted or not) and `"password": "..."` (JSON); `token=` alike. */
const PASSWORD_VALUE = /(\b(?:password|passwd|pgpassword|token)(?:\s*=\s*|["']\s*:\s*(?=["'])))('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|[^\s&]*)/gi;

const escapeRegExp = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Text with every URL's password replaced, safe for logs, status output,
 * errors and reports. Operators paste passwords unencoded, so the userinfo
 * runs to the LAST '@' before the next URL or line end (as WHATWG URL and
 * libpq read it), not the first: 'p@ss' and 'p ss' must not leak their tail.
 * A `password=` parameter (query string or conninfo) is masked too.
 */
export function redactUrl(text: string): string {
  const urls = [...text.matchAll(SCHEME)].map((m) => ({ at: m.index!, start: m.index! + m[0].length }));
  let out = '';
  let from = 0;
  urls.forEach(({ start }, i) => {
    const lineEnd = text.indexOf('\n', start);
    const end = Math.min(urls[i + 1]?.at ?? text.length, lineEnd < 0 ? text.length : lineEnd);
    const at = text.lastIndexOf('@', end - 1);
    const colon = text.indexOf(':', start);
    out += text.slice(from, start);
    if (at >= start && colon >= start && colon < at && !/[/\s]/.test(text.slice(start, colon))) {
      out += text.slice(start, colon) + ':***';
      from = at;
    } else {
      from = start;
    }
  });
  out += text.slice(from);
  // known secrets before `password=`: masked by its first word, 'Qx7 secret' would leave ' secret'
  // longest first: a secret containing a shorter one is masked whole
  for (const secret of [...knownSecrets].sort((a, b) => b.length - a.length)) {
    if (!ORDINARY_WORD.test(secret)) out = out.split(secret).join('***');
    else out = out.replace(new RegExp(`:${escapeRegExp(secret)}@`, 'g'), ':***@');
  }
  out = out.replace(/\b(Bearer\s+)[^\s"',]+/g, '$1***');
  out = out.replace(PASSWORD_VALUE, (_m, key: string, value: string) => key + (/^["']/.test(value) ? `${value[0]}***${value[0]}` : '***'));
  return out;
}

/**
 * Operators paste passwords as they are: 'p@ss w/rd' would end the userinfo at
 * the first '@' or the host at the '/'. The userinfo runs to the last '@' (as
 * in redactUrl); its user and password are percent-encoded here, and text
 * already encoded stays as it was.
 */
function encodeUserinfo(raw: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(raw);
  if (!m) return raw;
  const at = m[2]!.lastIndexOf('@');
  if (at < 0) return raw;
  const userinfo = m[2]!.slice(0, at);
  const colon = userinfo.indexOf(':');
  const enc = (t: string) => {
    let plain = t;
    try {
      plain = decodeURIComponent(t);
    } catch {
      // a '%' not followed by two hex digits is part of the password itself
    }
    return encodeURIComponent(plain);
  };
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
  const encoded = colon < 0 ? enc(user) : `${enc(user)}:${enc(userinfo.slice(colon + 1))}`;
  return m[1] + encoded + m[2]!.slice(at);
}

// The role each configured URL plays, so an error naming a database says which of the two it is:
// "connect ECONNREFUSED 127.0.0.1:5432" does not tell an operator whose two databases share a host
// which one is down. Keyed by where the URL points, not its text, so options or a password spelled
// another way do not matter.
const roles = new Map<string, string>();

function place(u: DbUrl): string {
  if (u.kind === 'sqlite') return u.path;
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  return `${host}:${u.port}/${u.database}`;
}

/** Records the roles of the configured databases (loadConfig does, for every command). */
export function nameDatabases(urls: { source?: string | undefined; target?: string | undefined }): void {
  // never cleared: a command reading its config file again for one key (verify's tables) names no URL
  // target first: should both name the same database, it is still the legacy one to the operator
  if (urls.target) roles.set(place(parseDbUrl(urls.target)), 'target (new) database');
  if (urls.source) roles.set(place(parseDbUrl(urls.source)), 'source (legacy) database');
}

/** Where a URL points, host:port/dbname or the SQLite file: two URLs with one place name one database (as written: another name for the same host is not seen). */
export function placeOf(url: string): string {
  return place(parseDbUrl(url));
}

/** "source (legacy) database db.internal:5432/app": role and place, never user or password. */
export function databaseLabel(url: string | DbUrl): string {
  const u = typeof url === 'string' ? parseDbUrl(url) : url;
  const where = place(u);
  return `${roles.get(where) ?? 'database'} ${where}`;
}

/** Same URL pointing at another database (the client's database name picks it). */
export function withDatabase(db: DbUrl & { kind: 'postgres' }, database: string): DbUrl & { kind: 'postgres' } {
  const u = new URL(db.url);
  u.pathname = '/' + encodeURIComponent(database);
  return { ...db, url: u.toString(), database };
}
