// Per-test-file database pairs on the suite's shared clusters, so files never
// see each other's tables.
import { inject } from 'vitest';
import pg from 'pg';
import { recreateDatabase } from '../../common/local-postgres.ts';

export interface DbPair {
  legacyUrl: string;
  targetUrl: string;
  name: string;
}

function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = '/' + db;
  return u.toString();
}

/** Fresh, empty databases named `name` on both the legacy and the new cluster. */
export async function databasePair(name: string): Promise<DbPair> {
  const legacy = inject('legacy');
  const target = inject('target');
  await Promise.all([recreateDatabase(legacy.url, name), recreateDatabase(target.url, name)]);
  return { name, legacyUrl: withDb(legacy.url, name), targetUrl: withDb(target.url, name) };
}

export async function sql(url: string, text: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(text, params);
  } finally {
    await c.end();
  }
}
