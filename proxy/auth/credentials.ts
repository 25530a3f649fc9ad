// Where the proxy learns what a user's password must be: the config's `users`
// list, or the source database's own pg_authid through the source URL's
// credentials (PgBouncer's auth_query). Looked up per login, cached briefly so a
// pool opening 50 connections costs one query.
import pg from 'pg';
import { pgClientConfig } from '../../common/pg-config.ts';
import { parseScramVerifier, type ScramVerifier } from './scram.ts';

export type Credential =
  | { kind: 'password'; password: string }
  | { kind: 'scram'; verifier: ScramVerifier }
  | { kind: 'md5'; stored: string };

export class CredentialLookupError extends Error {}

const TTL_MS = 5_000;

export class Credentials {
  private cache = new Map<string, { at: number; cred: Credential | null }>();
  private pool: pg.Pool | null;

  constructor(
    private readonly users: { name: string; password: string }[] | undefined,
    authQueryUrl: string | null,
  ) {
    this.pool = authQueryUrl ? new pg.Pool({ ...pgClientConfig(authQueryUrl), max: 2, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 5_000 }) : null;
    this.pool?.on('error', () => undefined); // idle client errors surface on the next lookup instead
    this.pool?.on('connect', (c) => c.on('error', () => undefined));
  }

  async lookup(user: string): Promise<Credential | null> {
    const fromConfig = this.users?.find((u) => u.name === user);
    if (fromConfig) return { kind: 'password', password: fromConfig.password };
    if (!this.pool) return null;
    const hit = this.cache.get(user);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.cred;
    let row: { rolpassword: string | null } | undefined;
    try {
      const r = await this.pool.query<{ rolpassword: string | null }>(
        `SELECT rolpassword FROM pg_catalog.pg_authid
          WHERE rolname = $1 AND rolcanlogin AND (rolvaliduntil IS NULL OR rolvaliduntil > now())`,
        [user],
      );
      row = r.rows[0];
    } catch (e) {
      throw new CredentialLookupError(`could not look up credentials on the source database: ${(e as Error).message}`);
    }
    let cred: Credential | null = null;
    const stored = row?.rolpassword;
    if (stored) {
      const verifier = parseScramVerifier(stored);
      if (verifier) cred = { kind: 'scram', verifier };
      else if (/^md5[0-9a-f]{32}$/.test(stored)) cred = { kind: 'md5', stored };
    }
    this.cache.set(user, { at: Date.now(), cred });
    return cred;
  }

  async close(): Promise<void> {
    await this.pool?.end();
  }
}
