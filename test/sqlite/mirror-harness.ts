// An SQLite source file with capture installed, its target schema made by
// `cutover schema` (applySchema + applyPostCopy) on the suite's new cluster,
// and a proxy mirroring between them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { inject } from 'vitest';
import { recreateDatabase } from '../../common/local-postgres.ts';
import { applyPostCopy, applySchema } from '../../backfill/schema/apply.ts';
import { sql } from '../harness/databases.ts';
import { readSourceSchema } from '../../backfill/schema/read-source.ts';
import { installSqliteCapture } from '../../proxy/capture/sqlite-capture.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { PASSWORD, USER } from './sqlite-harness.ts';

export interface SqliteMirror {
  file: string;
  source: string;
  targetUrl: string;
  tp: TestProxy;
  /** Connection URL through the proxy. */
  url(): string;
  close(): Promise<void>;
}

function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = '/' + db;
  return u.toString();
}

export async function startSqliteMirror(name: string, schema: string, opts: { reads?: number; capture?: boolean; history?: string } = {}): Promise<SqliteMirror> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cutover-sqlcap-'));
  const file = path.join(dir, 'app.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(schema);
  const source = `sqlite://${file}`;
  const target = inject('target');
  await recreateDatabase(target.url, name);
  const targetUrl = withDb(target.url, name);
  const plan = await readSourceSchema(source);
  await applySchema(targetUrl, plan);
  await applyPostCopy(targetUrl, plan);
  // history written before capture: only a backfill brings it to the target
  if (opts.history) db.exec(opts.history);
  if (opts.capture !== false) await installSqliteCapture(db);
  db.close();
  const tp = await startTestProxy({ source, target: targetUrl, reads: opts.reads ?? 0, users: [{ name: USER, password: PASSWORD }] });
  return {
    file,
    source,
    targetUrl,
    tp,
    url: () => tp.url('app', USER, PASSWORD),
    close: async () => {
      await tp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A database on the suite's new cluster with the application's PostgreSQL
 * schema (and rows): the reference a test compares the SQLite source's answers
 * with. Its URL.
 */
export async function referenceDatabase(name: string, ...setup: string[]): Promise<string> {
  const target = inject('target');
  await recreateDatabase(target.url, name);
  const url = withDb(target.url, name);
  for (const text of setup) await sql(url, text);
  return url;
}

/** Every value as the server's text: what the SQLite source and PostgreSQL answer, compared as sent. */
export const RAW_TEXT = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

/** A connected client: values as the server's text, or with `parsed`, through node-postgres's own type parsers. */
export async function connectClient(url: string, opts: { parsed?: boolean } = {}): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url, ...(opts.parsed ? {} : { types: RAW_TEXT }) });
  await c.connect();
  return c;
}
