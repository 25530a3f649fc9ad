// The demo's legacy database, PostgreSQL (a second embedded cluster) or an
// SQLite file: what differs between the two stories — the schema and its
// history, the target schema, capture, comparing both sides, and counting
// acknowledged writes — behind one small interface, so run-demo.ts tells
// the same story for both.
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Cluster } from '../../common/local-postgres.ts';
import { installCapture } from '../../proxy/capture/pg-capture.ts';
import { installSqliteCaptureIn } from '../../proxy/promote/sqlite-steps.ts';
import { applySchema } from '../../backfill/schema/apply.ts';
import { readSourceSchema } from '../../backfill/schema/read-source.ts';
import type { TableDiff } from '../../backfill/table-hash.ts';
import { runVerify } from '../../backfill/verify/run-verify.ts';
import { APP_SCHEMA, hashPassword, type AckedWrites } from './app.ts';

export const TABLES = ['public.accounts', 'public.sessions', 'public.documents'];

export type LegacyKind = 'postgres' | 'sqlite';

export interface LegacySide {
  kind: LegacyKind;
  /** --source. */
  url: string;
  /** The application stores document bodies as BLOBs (SQLite) rather than text. */
  blobBodies: boolean;
  /** The new database's schema, as an operator creates it (`cutover schema --apply` for SQLite). */
  createTargetSchema(targetUrl: string): Promise<void>;
  installCapture(): Promise<void>;
  /** Table by table, equal or not, with the row counts of both sides. */
  compare(targetUrl: string): Promise<{ table: string; equal: boolean; rows: [number, number] }[]>;
  /** Acknowledged writes present on this side, per table. */
  countPresent(acked: AckedWrites): Promise<Record<string, number>>;
}

async function exec(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Acknowledged writes present in a PostgreSQL database, per table. */
export async function countPresentPg(url: string, acked: AckedWrites): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const n = async (table: string, column: string, keys: Set<string>) =>
      (await c.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${column}::text = ANY ($1::text[])`, [[...keys]])).rows[0].n as number;
    return { accounts: await n('accounts', 'id', acked.accounts), sessions: await n('sessions', 'token', acked.sessions), documents: await n('documents', 'id', acked.documents) };
  } finally {
    await c.end();
  }
}

/**
 * verify's row-level comparison, as an operator runs it: the application keeps
 * writing meanwhile, and a difference is read again before it counts (a
 * transaction is on the new database just before its commit on the legacy
 * one, so two whole-table dumps taken side by side rarely agree under load).
 */
async function verifyCompare(source: string, target: string): Promise<TableDiff[]> {
  const r = await runVerify({ source, target, recheckDelayMs: 100 });
  return r.tables.map((t) => ({ table: t.table.includes('.') ? t.table : `public.${t.table}`, equal: t.equal, rows: [t.sourceRows, t.targetRows] as [number, number] }));
}

export async function postgresLegacy(cluster: Cluster, historyRows: number): Promise<LegacySide> {
  const url = await cluster.createDatabase('app');
  await exec(url, APP_SCHEMA);
  // history the mirror will never see: only the backfill can bring it over
  const hash = hashPassword('history');
  await exec(url, `
    INSERT INTO accounts (email, password_hash, display_name, created_at)
      SELECT 'history' || g || '@example.com', '${hash}', 'History ' || g, now() - g * interval '1 minute' FROM generate_series(1, ${historyRows}) g;
    INSERT INTO documents (account_id, title, body) SELECT id, 'Old brief', repeat('h', 300) FROM accounts;`);
  return {
    kind: 'postgres',
    url,
    blobBodies: false,
    createTargetSchema: (targetUrl) => exec(targetUrl, APP_SCHEMA),
    installCapture: async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await installCapture(c);
      } finally {
        await c.end();
      }
    },
    compare: (targetUrl) => verifyCompare(url, targetUrl),
    countPresent: (acked) => countPresentPg(url, acked),
  };
}

/** The legal-document system as it lived on SQLite: integer keys, BLOB bodies, timestamps as text. */
export const SQLITE_APP_SCHEMA = `
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  display_name TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE sessions (
  token TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE documents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  title TEXT NOT NULL,
  body BLOB NOT NULL,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX documents_account ON documents(account_id);
`;

/**
 * Password hashes as the older systems left them: bcrypt ($2b$, cost 10) and
 * argon2id (PHC string) formats, which must reach PostgreSQL byte for byte
 * (`cutover check` recognises both). The strings are format-exact, built from
 * random bytes; the demo's own sign-ups use the app's verifiable PBKDF2.
 */
export const LEGACY_HASH_SQL = `CASE WHEN g % 2 = 0
  THEN '$2b$10$' || substr(hex(randomblob(40)), 1, 53)
  ELSE '$argon2id$v=19$m=65536,t=3,p=4$' || substr(hex(randomblob(16)), 1, 22) || '$' || substr(hex(randomblob(32)), 1, 43) END`;

export async function sqliteLegacy(dir: string, historyRows: number): Promise<LegacySide> {
  const file = path.join(dir, 'legal.db');
  const url = `sqlite://${file}`;
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.exec(SQLITE_APP_SCHEMA);
    db.exec(`
      WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${historyRows})
      INSERT INTO accounts (email, password_hash, display_name, created_at)
        SELECT 'history' || g || '@example.com', ${LEGACY_HASH_SQL}, 'History ' || g, strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || g || ' minutes') FROM s;
      INSERT INTO documents (account_id, title, body) SELECT id, 'Old brief', randomblob(300) FROM accounts;`);
  } finally {
    db.close();
  }
  const count = (fn: (db: Database.Database) => Record<string, number>) => {
    const r = new Database(file, { readonly: true });
    try {
      return fn(r);
    } finally {
      r.close();
    }
  };
  return {
    kind: 'sqlite',
    url,
    blobBodies: true,
    createTargetSchema: async (targetUrl) => applySchema(targetUrl, await readSourceSchema(url)).then(() => undefined),
    installCapture: () => installSqliteCaptureIn(file).then(() => undefined),
    compare: (targetUrl) => verifyCompare(url, targetUrl),
    countPresent: async (acked) =>
      count((d) => {
        const n = (table: string, column: string, keys: (string | number)[]) =>
          Number(d.prepare(`SELECT count(*) FROM ${table} WHERE ${column} IN (SELECT value FROM json_each(?))`).pluck().get(JSON.stringify(keys)));
        return {
          accounts: n('accounts', 'id', [...acked.accounts].map(Number)),
          sessions: n('sessions', 'token', [...acked.sessions]),
          documents: n('documents', 'id', [...acked.documents].map(Number)),
        };
      }),
  };
}
