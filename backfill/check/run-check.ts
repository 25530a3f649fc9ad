// `cutover check`: the pre-flight. Connectivity to both sides, a primary key
// on every table, the target schema's compatibility, the source data the
// target will refuse, rows already on the target that conflict, the formats of
// password hashes, and room for the backup. Every finding names what it is
// about; nothing is written anywhere but a report file.
import { writeFileSync } from 'node:fs';
import { makeDir } from '../../common/make-dir.ts';
import path from 'node:path';
import pg from 'pg';
import { pgClient } from '../../common/pg-config.ts';
import { describeError, namesItsDatabase } from '../../common/errors.ts';
import { parseDbUrl, redactUrl } from '../../common/urls.ts';
import { openSqlite } from '../copy/sqlite-source.ts';
import type { SchemaPlan, TableDef } from '../schema/model.ts';
import { qi, qualifiedName, tableLabel } from '../schema/model.ts';
import { readSourceSchema } from '../schema/read-source.ts';
import { targetColumns, type TargetCols } from '../schema/missing-on-target.ts';
import { autoLimit } from '../../proxy/target-sessions.ts';
import { typeClass } from '../verify/canonical.ts';
import { runVerify } from '../verify/run-verify.ts';
import { backupDirFindings, sqliteFileBytes } from './environment.ts';
import { exitCodeOf, type Finding } from './findings.ts';
import { hashFormat, hashFormatSql, isPasswordColumn } from './password-hashes.ts';
import { sqliteOrphans, sqliteValueFindings } from './sqlite-data.ts';
import { sqliteCaptureFindings } from './sqlite-capture.ts';
import { targetUniqueFindings } from './target-uniques.ts';
import { serverDefaultFindings } from './server-defaults.ts';

export interface CheckOptions {
  source: string;
  target: string;
  tables?: string[];
  backupDir: string;
  reportDir?: string;
  skipBackup?: boolean;
}

export interface CheckReport {
  source: string;
  target: string;
  at: string;
  exitCode: 0 | 1 | 2;
  findings: Finding[];
  file?: string;
}

/**
 * Whether two connections reach one database under two names (localhost and 127.0.0.1, a DNS alias),
 * which the URLs' text cannot tell: the server's start time, port and the database's oid together.
 */
async function sameServerDatabase(a: pg.Client, b: pg.Client): Promise<boolean> {
  const q = `SELECT pg_postmaster_start_time()::text || ' ' || current_setting('port') || ' ' || d.oid::text AS id FROM pg_database d WHERE d.datname = current_database()`;
  const [x, y] = await Promise.all([a.query<{ id: string }>(q), b.query<{ id: string }>(q)]);
  return x.rows[0]?.id === y.rows[0]?.id;
}

export async function runCheck(o: CheckOptions): Promise<CheckReport> {
  const findings: Finding[] = [];
  const src = parseDbUrl(o.source, 'source');
  parseDbUrl(o.target, 'target');
  let plan: SchemaPlan | null = null;
  let sourcePg: pg.Client | null = null;
  let sourceBytes = 0;
  try {
    if (src.kind === 'sqlite') {
      openSqlite(src.path, true).close();
      sourceBytes = sqliteFileBytes(src.path);
    } else {
      const c = pgClient(o.source);
      c.on('error', () => undefined);
      try {
        await c.connect();
      } catch (e) {
        await c.end().catch(() => undefined);
        throw e;
      }
      // only a connected client: a query on one that failed to connect waits for ever
      sourcePg = c;
      sourceBytes = Number((await sourcePg.query(`SELECT pg_database_size(current_database())::text AS n`)).rows[0].n);
    }
    plan = await readSourceSchema(o.source, o.tables, false);
    findings.push({ severity: 'info', check: 'connect', message: `source reachable: ${plan.tables.length} table(s)` });
  } catch (e) {
    findings.push({ severity: 'error', check: 'connect', message: namesItsDatabase(e) ? describeError(e) : `source: ${describeError(e)}` });
  }
  const target = pgClient(o.target);
  let targetOk = false;
  try {
    await target.connect();
    targetOk = true;
    findings.push({ severity: 'info', check: 'connect', message: 'target reachable' });
  } catch (e) {
    findings.push({ severity: 'error', check: 'connect', message: namesItsDatabase(e) ? describeError(e) : `target: ${describeError(e)}` });
  }
  if (sourcePg && targetOk && (await sameServerDatabase(sourcePg, target))) {
    findings.push({ severity: 'error', check: 'connect', message: 'the source and the target are one database, reached by two names: the target must be the new database' });
  }

  try {
    if (plan) {
      for (const t of plan.tables) {
        if (!t.key.length) findings.push({ severity: 'error', check: 'primary-key', table: tableLabel(t), message: 'no primary key: the table cannot be mirrored by key or copied in key order; add one' });
      }
      const targetCols = new Map<string, TargetCols | null>();
      const nonEmpty: string[] = [];
      if (targetOk) {
        const canonical = await canonicalTypes(target, plan.tables.flatMap((t) => t.columns.map((c) => c.type)));
        for (const t of plan.tables) {
          const cols = await targetColumns(target, t);
          targetCols.set(t.name, cols);
          if (cols) {
            findings.push(...compatibility(t, cols, canonical));
            const any = await target.query(`SELECT EXISTS (SELECT 1 FROM ${qualifiedName(t)}) AS x`);
            if (any.rows[0].x) nonEmpty.push(tableLabel(t));
          }
        }
      }
      if (src.kind === 'sqlite') {
        const db = openSqlite(src.path, true);
        try {
          for (const t of plan.tables) findings.push(...sqliteValueFindings(db, t, targetCols.get(t.name) ?? null));
          findings.push(...sqliteOrphans(db, plan.tables));
          findings.push(...sqlitePasswordFormats(db, plan.tables));
          findings.push(...sqliteCaptureFindings(db));
        } finally {
          db.close();
        }
      } else if (sourcePg) {
        findings.push(...(await pgPasswordFormats(sourcePg, plan.tables)));
        findings.push(...(await pgLargeObjects(sourcePg)));
        if (targetOk) findings.push(...(await connectionRoom(sourcePg, target)));
        if (targetOk) findings.push(...(await serverDefaultFindings(o.source, o.target)));
      }
      if (targetOk) {
        for (const t of plan.tables) {
          if (t.key.length && targetCols.get(t.name)) findings.push(...(await targetUniqueFindings(o.source, target, t, sourcePg)));
        }
        const comparable = nonEmpty.filter((n) => plan!.tables.find((t) => tableLabel(t) === n)?.key.length);
        if (comparable.length) findings.push(...(await conflicts(o, comparable)));
      }
    }
    if (!o.skipBackup) findings.push(...backupDirFindings(o.backupDir, sourceBytes));
  } finally {
    await target.end().catch(() => undefined);
    await sourcePg?.end().catch(() => undefined);
  }
  const report: CheckReport = { source: redactUrl(o.source), target: redactUrl(o.target), at: new Date().toISOString(), exitCode: exitCodeOf(findings), findings };
  if (o.reportDir) {
    makeDir(o.reportDir, '--report-dir');
    report.file = path.join(o.reportDir, `check-${report.at.replace(/[:.]/g, '-')}.json`);
    writeFileSync(report.file, JSON.stringify(report, null, 2) + '\n', { mode: 0o600 });
  }
  return report;
}

/**
 * Large objects live in pg_largeobject, outside every table: the backfill
 * copies rows and the mirror captures rows, so they would stay behind, and an
 * oid column pointing at them would point at nothing after promote.
 */
async function pgLargeObjects(source: pg.Client): Promise<Finding[]> {
  const r = await source.query(`SELECT count(*)::int AS n, coalesce(sum(length(lo.data)), 0)::bigint::text AS bytes
    FROM pg_largeobject_metadata m LEFT JOIN pg_largeobject lo ON lo.loid = m.oid`).catch(() => null);
  // pg_largeobject is readable by superusers only: without it, the count alone
  const n = r ? Number(r.rows[0].n) : Number((await source.query(`SELECT count(*)::int AS n FROM pg_largeobject_metadata`)).rows[0].n);
  if (!n) return [];
  const size = r ? ` (${(Number(r.rows[0].bytes) / 2 ** 20).toFixed(1)} MB)` : '';
  return [{
    severity: 'error',
    check: 'large-objects',
    rows: n,
    message: `${n} large object(s)${size} in pg_largeobject: Cutover copies and mirrors table rows only, so they would be left behind at promote; move them into bytea columns, or copy them yourself (pg_dump --large-objects) and keep them from changing while migrating`,
  }];
}

/**
 * While mirroring, a client session of the proxy holds a connection on the
 * source and, once it reads from the new database, one there too, up to the
 * proxy's targetSessions (proxy/target-sessions.ts: by default what the target
 * allows less a share kept for the mirror's appliers). Sessions past it read
 * from the source only, so the read share set is not the one served.
 */
async function connectionRoom(source: pg.Client, target: pg.Client): Promise<Finding[]> {
  const slots = `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int AS n`;
  const [s, t, busy] = await Promise.all([
    source.query(slots),
    target.query(slots),
    source.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname = current_database() AND pid <> pg_backend_pid()`),
  ]);
  return [connectionFinding(Number(t.rows[0].n), Number(s.rows[0].n), Number(busy.rows[0].n))];
}

/** connectionRoom's verdict: the target's usable connections against the source's sessions now. */
export function connectionFinding(room: number, sourceRoom: number, sessions: number): Finding {
  const limit = autoLimit(room, 1);
  const numbers = `the target allows ${room} connections; the source database has ${sessions} client session(s) now (the server allows ${sourceRoom}), each of which may also hold one on the target for reads: the proxy keeps to ${limit} of them there by default (targetSessions), the rest being the mirror's appliers' and spare`;
  if (limit >= sessions) return { severity: 'info', check: 'connections', message: numbers };
  let need = room;
  while (autoLimit(need, 1) < sessions) need++;
  return { severity: 'warning', check: 'connections', message: `${numbers}: sessions past ${limit} read from the source only; raise the target's max_connections by at least ${need - room}, more if the application grows` };
}

/**
 * Type names as the target's format_type() writes them (timestamp is
 * "timestamp without time zone", varchar(40) "character varying(40)"), so
 * the planned and the existing types compare by meaning: PostgreSQL reads
 * them itself, as the result columns of one `SELECT NULL::type, …`. A name
 * it does not know stays as it is.
 */
async function canonicalTypes(c: pg.Client, types: string[]): Promise<Map<string, string>> {
  const distinct = [...new Set(types)];
  const out = new Map(distinct.map((x) => [x, x]));
  const read = async (names: string[]) => {
    const r = await c.query(`SELECT ${names.map((x, i) => `NULL::${x} AS c${i}`).join(', ')}`);
    const f = await c.query<{ t: string }>(`SELECT format_type(o, m) AS t FROM unnest($1::oid[], $2::int[]) WITH ORDINALITY AS x(o, m, n) ORDER BY n`,
      [r.fields.map((x) => x.dataTypeID), r.fields.map((x) => x.dataTypeModifier)]);
    names.forEach((x, i) => out.set(x, f.rows[i]!.t));
  };
  try {
    if (distinct.length) await read(distinct);
  } catch {
    for (const x of distinct) await read([x]).catch(() => undefined);
  }
  return out;
}

/** Whether the target table can take the source's rows: columns present, types of the same kind. */
function compatibility(t: TableDef, cols: TargetCols, canonical: Map<string, string>): Finding[] {
  const out: Finding[] = [];
  for (const c of t.columns) {
    const tc = cols.get(c.name);
    if (!tc) {
      out.push({ severity: 'error', check: 'schema', table: tableLabel(t), column: c.name, message: `column missing on the target (source type ${c.sourceType || 'none'})` });
      continue;
    }
    const a = typeClass(c.type);
    const b = typeClass(tc.type);
    const widening = (a === 'int' && (b === 'numeric' || b === 'float')) || (a === 'float' && b === 'numeric');
    if (a !== b && !widening) out.push({ severity: 'error', check: 'schema', table: tableLabel(t), column: c.name, message: `target type ${tc.type} does not hold ${c.type} values` });
    else if ((canonical.get(c.type) ?? c.type) !== tc.type && a !== 'text') out.push({ severity: 'warning', check: 'schema', table: tableLabel(t), column: c.name, message: `target type ${tc.type} differs from ${c.type}; values are checked against ${tc.type}` });
  }
  const source = new Set(t.columns.map((c) => c.name));
  for (const [name, tc] of cols) {
    if (!source.has(name) && tc.notNull) out.push({ severity: 'warning', check: 'schema', table: tableLabel(t), column: name, message: 'target-only NOT NULL column: it needs a default, or copied rows are refused' });
  }
  return out;
}

async function conflicts(o: CheckOptions, tables: string[]): Promise<Finding[]> {
  const r = await runVerify({ source: o.source, target: o.target, tables, recheckDelayMs: 100 });
  const out: Finding[] = [];
  for (const t of r.tables) {
    const diff = t.differences.filter((d) => d.kind === 'different');
    if (t.different) out.push({ severity: 'error', check: 'conflict', table: t.table, rows: t.different, keys: diff.slice(0, 10).map((d) => d.key.join(', ')), column: [...new Set(diff.flatMap((d) => d.columns ?? []))].join(', '), message: `${t.different} row(s) already on the target with the same key and other content (the copy keeps the target's)` });
    if (t.extra) out.push({ severity: 'warning', check: 'conflict', table: t.table, rows: t.extra, keys: t.differences.filter((d) => d.kind === 'extra').slice(0, 10).map((d) => d.key.join(', ')), message: `${t.extra} row(s) on the target that the source does not have` });
  }
  return out;
}

function formatsFinding(table: string, column: string, counts: Record<string, number>): Finding {
  const list = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ${n}`).join(', ');
  const unknown = counts.unknown ?? 0;
  return {
    severity: unknown ? 'warning' : 'info', check: 'password-hash', table, column, rows: unknown || undefined,
    message: `password hash formats: ${list}${unknown ? ' — check that the new application verifies every format found' : ''}`,
  };
}

function sqlitePasswordFormats(db: ReturnType<typeof openSqlite>, tables: TableDef[]): Finding[] {
  const out: Finding[] = [];
  for (const t of tables) {
    for (const c of t.columns.filter((x) => isPasswordColumn(x.name))) {
      const counts: Record<string, number> = {};
      for (const v of db.prepare(`SELECT ${qi(c.name)} FROM ${qi(t.name)} WHERE ${qi(c.name)} IS NOT NULL`).pluck().iterate() as IterableIterator<unknown>) {
        const f = hashFormat(Buffer.isBuffer(v) ? v.toString('latin1') : String(v));
        counts[f] = (counts[f] ?? 0) + 1;
      }
      if (Object.keys(counts).length) out.push(formatsFinding(tableLabel(t), c.name, counts));
    }
  }
  return out;
}

async function pgPasswordFormats(db: pg.Client, tables: TableDef[]): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const t of tables) {
    for (const c of t.columns.filter((x) => isPasswordColumn(x.name) && typeClass(x.type) === 'text')) {
      const r = await db.query<{ f: string; n: number }>(`SELECT ${hashFormatSql(qi(c.name))} AS f, count(*)::int AS n FROM ${qualifiedName(t)} WHERE ${qi(c.name)} IS NOT NULL GROUP BY 1`);
      if (r.rows.length) out.push(formatsFinding(tableLabel(t), c.name, Object.fromEntries(r.rows.map((x) => [x.f, x.n]))));
    }
  }
  return out;
}

