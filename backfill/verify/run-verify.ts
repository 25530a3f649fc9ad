// The verifier: per table, chunks of the source in key order hashed on both
// sides; a chunk that differs is narrowed to rows (missing / extra / different,
// with the columns). A key the two sides sort differently is compared in byte
// order, each side read once in that order and matched row by row. Every
// difference is read again after a pause, twice, so that writes in flight
// between the two reads do not count; --repair rewrites the target's rows from
// the source and the table is compared again.
import { writeFileSync } from 'node:fs';
import { makeDir } from '../../common/make-dir.ts';
import path from 'node:path';
import type Database from 'better-sqlite3';
import pg from 'pg';
import { parseDbUrl, redactUrl } from '../../common/urls.ts';
import type { Key } from '../copy/keys.ts';
import { openSqlite } from '../copy/sqlite-source.ts';
import { tableLabel, type TableDef } from '../schema/model.ts';
import { readSourceSchema } from '../schema/read-source.ts';
import { keyOrderDiffers, sqliteKeyCollations } from '../copy/keyless-load.ts';
import { typeClass } from './canonical.ts';
import { repairRows } from './repair.ts';
import { PgSide, SqliteSide, sqliteKey, type Row, type RowDigest, type TablePair } from './sides.ts';

export interface VerifyOptions {
  source: string;
  target: string;
  tables?: string[];
  repair?: boolean;
  reportDir?: string;
  chunkSize?: number;
  recheckDelayMs?: number;
  /** Differences listed per table in the report at most (all are counted). */
  maxListed?: number;
  onTable?: (t: TableReport) => void;
}

export interface Difference {
  kind: 'missing' | 'extra' | 'different';
  key: string[];
  columns?: string[];
}

export interface TableReport {
  table: string;
  key: string[];
  sourceRows: number;
  targetRows: number;
  equal: boolean;
  missing: number;
  extra: number;
  different: number;
  /** Differences that were gone when read again (writes in flight). */
  settled: number;
  differences: Difference[];
  repaired?: number;
}

export interface VerifyReport {
  source: string;
  target: string;
  startedAt: string;
  seconds: number;
  /** Every table compared equal, and none missing on the target. */
  equal: boolean;
  tables: TableReport[];
  /** Tables the target cannot hold as the source has them (absent, or columns missing): differences, not warnings. */
  uncompared: { table: string; reason: string }[];
  warnings: string[];
  file?: string;
}

export class VerifyError extends Error {}

export async function runVerify(o: VerifyOptions): Promise<VerifyReport> {
  const started = Date.now();
  const src = parseDbUrl(o.source, 'source');
  if (parseDbUrl(o.target, 'target').kind !== 'postgres') throw new VerifyError('target: must be a PostgreSQL database');
  const plan = await readSourceSchema(o.source, o.tables, false);
  const warnings: string[] = [];
  const uncompared: VerifyReport['uncompared'] = [];
  const target = new PgSide(o.target, 'target');
  const pgSource = src.kind === 'postgres' ? new PgSide(o.source, 'source') : null;
  const sqlite = src.kind === 'sqlite' ? new SqliteSide(openSqlite(src.path, true)) : null;
  const tables: TableReport[] = [];
  try {
    // Settled, not Promise.all: one side refusing must not leave the other's
    // connection open (the process would never exit)
    const connected = await Promise.allSettled([target.connect(), pgSource?.connect()]);
    for (const c of connected) if (c.status === 'rejected') throw c.reason;
    for (const def of plan.tables) {
      if (!def.key.length) {
        warnings.push(`${tableLabel(def)}: no primary key; not compared`);
        continue;
      }
      // a failure names its table: "function trim_scale(numeric[]) does not exist" alone left the operator to guess
      try {
        const pair = await tablePair(target.client, def, sqlite ? sqlite.db : pgSource!.client, warnings);
        if (typeof pair === 'string') {
          uncompared.push({ table: tableLabel(def), reason: pair });
          continue;
        }
        let { report, all } = await compareTable(pair, sqlite, pgSource, target, o);
        if (o.repair && !report.equal) {
          const fixed = await repairRows(o.source, o.target, pair, all);
          ({ report } = await compareTable(pair, sqlite, pgSource, target, o));
          report.repaired = fixed;
        }
        o.onTable?.(report);
        tables.push(report);
      } catch (e) {
        if (e instanceof Error && !e.message.startsWith(`${tableLabel(def)}: `)) e.message = `${tableLabel(def)}: ${e.message}`;
        throw e;
      }
    }
  } finally {
    await Promise.all([target.end(), pgSource?.end()]);
    sqlite?.db.close();
  }
  const report: VerifyReport = {
    source: redactUrl(o.source),
    target: redactUrl(o.target),
    startedAt: new Date(started).toISOString(),
    seconds: (Date.now() - started) / 1000,
    equal: tables.every((t) => t.equal) && !uncompared.length,
    tables,
    uncompared,
    warnings,
  };
  if (o.reportDir) report.file = writeReport(o.reportDir, report);
  return report;
}

function writeReport(dir: string, r: VerifyReport): string {
  makeDir(dir, '--report-dir');
  const file = path.join(dir, `verify-${r.startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(r, null, 2) + '\n', { mode: 0o600 });
  return file;
}

/** The table's columns on both sides; a string says why the target cannot be compared (its rows are as good as missing). */
async function tablePair(target: pg.Client, def: TableDef, source: pg.Client | Database.Database, warnings: string[]): Promise<TablePair | string> {
  const fromSqlite = !(source instanceof pg.Client);
  const r = await target.query<{ name: string; type: string; collation: string | null }>(`
    SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
           CASE WHEN a.attcollation = 0 THEN NULL WHEN co.collname = 'default' THEN (SELECT datcollate FROM pg_database WHERE datname = current_database()) ELSE co.collname END AS collation
      FROM pg_attribute a LEFT JOIN pg_collation co ON co.oid = a.attcollation
     WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, [`"${def.schema.replace(/"/g, '""')}"."${def.name.replace(/"/g, '""')}"`]);
  if (!r.rows.length) return 'not on the target';
  const byName = new Map(r.rows.map((x) => [x.name, x]));
  const columns = def.columns.filter((c) => !c.generated).map((c) => c.name);
  const missing = columns.filter((c) => !byName.has(c));
  if (missing.length) return `target lacks column(s) ${missing.join(', ')}`;
  // Chunks are key ranges, bounded on one side and applied on the other: both must sort the key alike,
  // or each side's range holds other rows (every chunk differs, rows are counted twice, and a key
  // collation's ranges can hold most of the table). Otherwise both read it in byte order (scanStreamed).
  const collatable = def.key.filter((k) => byName.get(k)!.collation !== null);
  let why: string | null = null;
  if (fromSqlite) {
    const text = def.key.filter((k) => typeClass(byName.get(k)!.type) === 'text');
    const k = text.find((x) => !['C', 'POSIX'].includes(byName.get(x)!.collation ?? 'C'));
    const nonBinary = [...sqliteKeyCollations(source, def)].find(([, c]) => c !== 'BINARY');
    if (k) why = `text key under collation ${byName.get(k)!.collation}`;
    else if (nonBinary) why = `key column ${nonBinary[0]} has collation ${nonBinary[1]} in the SQLite file`;
  } else if (collatable.length) {
    why = await keyOrderDiffers(target, def, { kind: 'postgres', client: source });
  }
  const byteOrder = why ? collatable : [];
  if (why) warnings.push(`${tableLabel(def)}: ${why}; compared in byte order (each side sorts the table once)`);
  return {
    def,
    columns,
    sourceTypes: columns.map((c) => def.columns.find((d) => d.name === c)!.type),
    targetTypes: columns.map((c) => byName.get(c)!.type),
    byteOrder,
    fromSqlite,
  };
}

function diffRows(pair: TablePair, s: Row[], t: Row[], out: Map<string, Difference & { keyRaw?: Key }>): void {
  const tById = new Map(t.map((r) => [r.id, r]));
  for (const r of s) {
    const other = tById.get(r.id);
    tById.delete(r.id);
    if (!other) out.set(r.id, { kind: 'missing', key: r.keyText, keyRaw: r.keyRaw });
    else {
      const cols = pair.columns.filter((_, i) => r.cols[i] !== other.cols[i]);
      if (cols.length) out.set(r.id, { kind: 'different', key: r.keyText, columns: cols, keyRaw: r.keyRaw });
    }
  }
  for (const r of tById.values()) out.set(r.id, { kind: 'extra', key: r.keyText });
}

type Found = Map<string, Difference & { keyRaw?: Key }>;
interface Scan {
  found: Found;
  sourceRows: number;
  targetRows: number;
}

/** Chunks of the source in key order, each hashed on both sides; only a chunk that differs is read row by row. */
async function scanChunks(pair: TablePair, sqlite: SqliteSide | null, source: PgSide | null, target: PgSide, n: number): Promise<Scan> {
  const found: Found = new Map();
  let sourceRows = 0;
  let targetRows = 0;
  const loRaw: Key | null = null;
  let lo: string[] | null = null;
  // SQLite chunks are read (in this thread) while PostgreSQL hashes the previous one
  let next = sqlite ? sqlite.chunk(pair, loRaw, n) : null;
  for (;;) {
    let hi: string[] | null;
    let srcRows: (() => Row[]) | null = null;
    let sc;
    let tc;
    if (sqlite) {
      const c = next!;
      srcRows = c.rows;
      sc = c.chunk;
      hi = c.full ? c.lastText : null;
      const pending = target.hash(pair, lo, hi);
      next = hi ? sqlite.chunk(pair, c.last, n) : null;
      tc = await pending;
    } else {
      hi = await source!.upperBound(pair, lo, n);
      [sc, tc] = await Promise.all([source!.hash(pair, lo, hi), target.hash(pair, lo, hi)]);
    }
    sourceRows += sc.count;
    targetRows += tc.count;
    if (sc.hash !== tc.hash || sc.count !== tc.count) {
      const [s, t] = await Promise.all([
        srcRows ? srcRows() : source!.rows(pair, source!.where(pair, lo, hi)),
        target.rows(pair, target.where(pair, lo, hi)),
      ]);
      diffRows(pair, s, t, found);
    }
    if (!hi) break;
    lo = hi;
  }
  return { found, sourceRows, targetRows };
}

/**
 * Both sides read once each, in the same (byte) order, every row's digest
 * matched by its identity: for keys in byte order, where ranges of chunks have
 * no index to use. Rows wait to be matched only while the two reads are apart,
 * so what is held is the rows that differ and about one batch more.
 */
async function scanStreamed(pair: TablePair, sqlite: SqliteSide | null, source: PgSide | null, target: PgSide, n: number): Promise<Scan> {
  const found: Found = new Map();
  const reads = [sqlite ? sqlite.digests(pair, n) : source!.digests(pair, n), target.digests(pair, n)] as const;
  const waiting = [new Map<string, RowDigest>(), new Map<string, RowDigest>()] as const;
  const counts: [number, number] = [0, 0];
  const done = [false, false];
  try {
    while (!done[0] || !done[1]) {
      const next = await Promise.all(reads.map((r, side) => (done[side] ? null : r.next())));
      for (const side of [0, 1] as const) {
        const got = next[side];
        if (!got) continue;
        if (got.done) {
          done[side] = true;
          continue;
        }
        const mine = waiting[side];
        const theirs = waiting[side === 0 ? 1 : 0];
        counts[side] += got.value.length;
        for (const row of got.value) {
          const other = theirs.get(row.id);
          if (!other) mine.set(row.id, row);
          else {
            theirs.delete(row.id);
            const src = side === 0 ? row : other;
            if (other.hash !== row.hash) found.set(row.id, { kind: 'different', key: src.keyText, keyRaw: src.keyRaw });
          }
        }
      }
    }
  } finally {
    await Promise.allSettled(reads.map((r) => r.return(undefined)));
  }
  for (const r of waiting[0].values()) found.set(r.id, { kind: 'missing', key: r.keyText, keyRaw: r.keyRaw });
  for (const r of waiting[1].values()) found.set(r.id, { kind: 'extra', key: r.keyText });
  return { found, sourceRows: counts[0], targetRows: counts[1] };
}

async function compareTable(pair: TablePair, sqlite: SqliteSide | null, source: PgSide | null, target: PgSide, o: VerifyOptions): Promise<{ report: TableReport; all: Difference[] }> {
  const n = o.chunkSize ?? 5000;
  const { found, sourceRows, targetRows } = await (pair.byteOrder.length ? scanStreamed : scanChunks)(pair, sqlite, source, target, n);
  const before = found.size;
  // rows may have changed between the two reads: what differs must differ again, twice
  for (let pass = 0; pass < 2 && found.size; pass++) {
    await new Promise((r) => setTimeout(r, o.recheckDelayMs ?? 300));
    const again: Found = new Map();
    const all = [...found.values()];
    for (let i = 0; i < all.length; i += 500) {
      const part = all.slice(i, i + 500);
      const keys = part.map((d) => d.key);
      const [s, t] = await Promise.all([
        sqlite ? sqlite.rowsByKeys(pair, part.map((d) => d.keyRaw ?? sqliteKey(pair, d.key))) : source!.rows(pair, source!.keysWhere(pair, keys)),
        target.rows(pair, target.keysWhere(pair, keys)),
      ]);
      diffRows(pair, s, t, again);
    }
    found.clear();
    for (const [k, v] of again) found.set(k, v);
  }
  const diffs = [...found.values()];
  const count = (k: Difference['kind']) => diffs.filter((d) => d.kind === k).length;
  const report: TableReport = {
    table: tableLabel(pair.def),
    key: pair.def.key,
    sourceRows,
    targetRows,
    equal: diffs.length === 0,
    missing: count('missing'),
    extra: count('extra'),
    different: count('different'),
    settled: before - diffs.length,
    differences: diffs.slice(0, o.maxListed ?? 1000).map(({ keyRaw: _k, ...d }) => d),
  };
  return { report, all: diffs };
}
