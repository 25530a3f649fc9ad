// node-postgres connection settings from an operator's URL, with libpq's
// meaning of sslmode (node-postgres alone reads `require` as `verify-full`).
import type { ClientConfig } from 'pg';
import { parseDbUrl } from './urls.ts';

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
  return { host: u.host, port: u.port, user: u.user, password: u.password, database: u.database, ssl, ...extra };
}
