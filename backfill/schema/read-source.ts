// The schema plan of whichever kind of source a URL names.
import { pgClient } from '../../common/pg-config.ts';
import { parseDbUrl } from '../../common/urls.ts';
import { openSqlite } from '../copy/sqlite-source.ts';
import { postgresSchema } from './from-postgres.ts';
import { sqliteSchema } from './from-sqlite.ts';
import type { SchemaPlan } from './model.ts';

export class UnknownTableError extends Error {}

/**
 * `ddl: false`: columns and keys only (what a copy or a diff needs). A name in
 * `only` that matches no table is refused: a typo must not turn into a
 * migration that silently leaves a table behind.
 */
export async function readSourceSchema(url: string, only?: string[], ddl = true): Promise<SchemaPlan> {
  const plan = await readAll(url, only, ddl);
  const unknown = (only ?? []).filter((n) => !plan.tables.some((t) => t.name === n || `${t.schema}.${t.name}` === n));
  if (unknown.length) throw new UnknownTableError(`no such table on the source: ${unknown.join(', ')}`);
  return plan;
}

async function readAll(url: string, only: string[] | undefined, ddl: boolean): Promise<SchemaPlan> {
  const u = parseDbUrl(url, 'source');
  if (u.kind === 'sqlite') {
    const db = openSqlite(u.path, true);
    try {
      return await sqliteSchema(db, only, ddl);
    } finally {
      db.close();
    }
  }
  const c = pgClient(url);
  await c.connect();
  try {
    return await postgresSchema(c, only);
  } finally {
    await c.end();
  }
}
