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
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UrlError(`${what}: not a URL: ${redactUrl(raw)} (expected postgres://user:pass@host:port/db or sqlite:///path.db)`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new UrlError(`${what}: unsupported scheme "${u.protocol.replace(/:$/, '')}" (expected postgres:// or sqlite:)`);
  }
  if (!u.hostname) throw new UrlError(`${what}: missing host in ${redactUrl(raw)}`);
  const port = u.port ? Number(u.port) : 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UrlError(`${what}: bad port in ${redactUrl(raw)}`);
  return {
    kind: 'postgres',
    url: raw,
    host: decodeURIComponent(u.hostname),
    port,
    user: decodeURIComponent(u.username || 'postgres'),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username || 'postgres'),
    sslmode: u.searchParams.get('sslmode') ?? undefined,
  };
}

/** The URL with its password replaced, safe for logs, status output and errors. */
export function redactUrl(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@\s]*@/i, '$1:***@');
}

/** Same URL pointing at another database (the client's database name picks it). */
export function withDatabase(db: DbUrl & { kind: 'postgres' }, database: string): DbUrl & { kind: 'postgres' } {
  const u = new URL(db.url);
  u.pathname = '/' + encodeURIComponent(database);
  return { ...db, url: u.toString(), database };
}
