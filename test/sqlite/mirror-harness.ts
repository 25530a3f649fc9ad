// An SQLite source file with capture installed, its target schema made by
// `cutover schema` (applySchema + applyPostCopy) on the suite's new cluster,
// and a proxy mirroring between them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { expect, inject } from 'vitest';
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

export interface MirrorOptions {
  reads?: number;
  capture?: boolean;
  /** Capture on these tables only (default: every table). */
  captureOnly?: string[];
  history?: string;
}

export async function startSqliteMirror(name: string, schema: string, opts: MirrorOptions = {}): Promise<SqliteMirror> {
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
  if (opts.capture !== false) await installSqliteCapture(db, opts.captureOnly);
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

/** The SQLite source and a PostgreSQL reference with the same schema, a client on each: a test runs each statement on both and compares. */
export interface ComparedPair {
  mirror: SqliteMirror;
  proxy: pg.Client;
  ref: pg.Client;
  close(): Promise<void>;
}

/** `pgSetup`: the reference database's schema (and rows), as referenceDatabase runs them; `parsed` as connectClient. */
export async function comparedPair(name: string, schema: string, pgSetup: string[], opts: { mirror?: MirrorOptions; parsed?: boolean } = {}): Promise<ComparedPair> {
  const mirror = await startSqliteMirror(name, schema, opts.mirror);
  const [ref, proxy] = await Promise.all([connectClient(await referenceDatabase(`${name}_ref`, ...pgSetup), opts), connectClient(mirror.url(), opts)]);
  return {
    mirror,
    proxy,
    ref,
    close: async () => {
      await proxy.end();
      await ref.end();
      await mirror.close();
    },
  };
}

/**
 * A statement's results (one for each statement of a simple query), or the
 * error it gave. `endBlock`: a ROLLBACK follows, as a client's error handler
 * ends a failed block.
 */
export async function resultsOrError(c: pg.Client, text: string, params?: unknown[], opts: { endBlock?: boolean } = {}): Promise<pg.QueryResult[] | { code?: string; message: string }> {
  try {
    const r: pg.QueryResult | pg.QueryResult[] = params ? await c.query({ text, values: params, rowMode: 'array' }) : await c.query({ text, rowMode: 'array' });
    return Array.isArray(r) ? r : [r];
  } catch (e) {
    return { code: (e as { code?: string }).code, message: (e as Error).message };
  } finally {
    if (opts.endBlock) await c.query('ROLLBACK').catch(() => undefined);
  }
}

/**
 * What a statement gives, to compare with PostgreSQL's: its first result's
 * command tag, row count, column names and rows, or its error's SQLSTATE and
 * message.
 */
export async function statementOutcome(c: pg.Client, text: string, params?: unknown[]): Promise<unknown> {
  const r = await resultsOrError(c, text, params);
  return Array.isArray(r) ? [r[0]!.command, r[0]!.rowCount, r[0]!.fields.map((f) => f.name), r[0]!.rows] : { code: r.code, message: r.message };
}

/** Each statement's outcome through the proxy is PostgreSQL's (soft: every case is reported, with its text). */
export async function expectSameOutcomes(pair: ComparedPair, cases: [string, unknown[]?][]): Promise<void> {
  for (const [text, params] of cases) expect.soft(await statementOutcome(pair.proxy, text, params), text).toEqual(await statementOutcome(pair.ref, text, params));
}
