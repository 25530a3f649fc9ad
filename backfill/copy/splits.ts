// A large table is copied as a few key ranges at once, one worker each, so
// that one big table does not run alone at the end while the others sit
// idle, and a PostgreSQL source streams on several connections. The split
// keys come from the source's key order (an index walk to the n-th key),
// are saved with the checkpoints before the first batch, and are reused as
// they are by --resume, so a resumed range ends where it ended before.
import type Database from 'better-sqlite3';
import { pgClient } from '../../common/pg-config.ts';
import type { CheckpointStore } from '../checkpoints.ts';
import type { TableDef } from '../schema/model.ts';
import { qi, qualifiedName } from '../schema/model.ts';
import { decodeKey, encodeKey, type Key } from './keys.ts';
import { keyIsRowid, rowidName } from './rowid-order.ts';
import { openSqlite } from './sqlite-source.ts';

/** Rows below which a range is not worth its own worker. */
export const MIN_RANGE_ROWS = 200_000;

export interface KeyRange {
  /** Checkpoint label: the table's own when it is one range, `<table>#i/k` otherwise. */
  label: string;
  /** Exclusive lower bound (null: the start). */
  lo: Key | null;
  /** Inclusive upper bound (null: the end). */
  hi: Key | null;
}

const splitLabel = (table: string) => `${table}#split`;

export function rangesOf(table: string, splits: Key[]): KeyRange[] {
  if (!splits.length) return [{ label: table, lo: null, hi: null }];
  const bounds: (Key | null)[] = [null, ...splits, null];
  return Array.from({ length: splits.length + 1 }, (_, i) => ({ label: `${table}#${i + 1}/${splits.length + 1}`, lo: bounds[i]!, hi: bounds[i + 1]! }));
}

/** The split keys saved by an earlier run (null: none saved, the table was copied as one range or not yet). */
export function savedSplits(cps: Map<string, { lastKey: string | null }>, table: string): Key[] | null {
  const cp = cps.get(splitLabel(table));
  return cp?.lastKey ? (JSON.parse(cp.lastKey) as string[]).map(decodeKey) : null;
}

export async function saveSplits(store: CheckpointStore, run: string, table: string, splits: Key[]): Promise<void> {
  await store.save(run, { table: splitLabel(table), lastKey: JSON.stringify(splits.map(encodeKey)), rows: splits.length, done: true, updatedAt: new Date().toISOString() });
}

/** Values cutting an integer column's span (min to max) into `parts` even spans, each as a one-column key. */
function evenSpan(db: Database.Database, t: TableDef, column: string, parts: number): Key[] {
  const [lo, hi] = db.prepare(`SELECT min(${column}), max(${column}) FROM ${qi(t.name)}`).raw(true).get() as [bigint | null, bigint | null];
  if (typeof lo !== 'bigint' || typeof hi !== 'bigint') return [];
  const cuts = Array.from({ length: parts - 1 }, (_, i) => lo + ((hi - lo) * BigInt(i + 1)) / BigInt(parts));
  return cuts.filter((k, i) => i === 0 || k !== cuts[i - 1]).map((k) => [k]);
}

/**
 * Keys that cut the table into `parts` ranges of about equal row counts
 * (fewer when the table has fewer rows than counted); rowids for a table read
 * in rowid order (rowid-order.ts).
 */
export async function splitKeys(source: { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string }, t: TableDef, rows: number, parts: number, byRowid = false): Promise<Key[]> {
  if (parts < 2) return [];
  const offsets = Array.from({ length: parts - 1 }, (_, i) => Math.floor((rows * (i + 1)) / parts));
  const keys = t.key.map(qi).join(', ');
  const out: Key[] = [];
  if (source.kind === 'sqlite') {
    const db = openSqlite(source.path, true);
    try {
      // read by rowid, or an INTEGER PRIMARY KEY (the rowid): cut the rowid's value span evenly (two index probes), no walk
      if (byRowid) return evenSpan(db, t, rowidName(t)!, parts);
      if (keyIsRowid(t)) return evenSpan(db, t, keys, parts);
      const s = db.prepare(`SELECT ${keys} FROM ${qi(t.name)} ORDER BY ${keys} LIMIT 1 OFFSET ?`).raw(true);
      for (const n of offsets) {
        const k = s.get(n) as Key | undefined;
        if (k) out.push(k);
      }
    } finally {
      db.close();
    }
  } else {
    const c = pgClient(source.url);
    await c.connect();
    try {
      for (const n of offsets) {
        // outputs aliased: ORDER BY "key" must mean the column, not a text output of the same name
        const r = await c.query({ text: `SELECT ${t.key.map((k, i) => `${qi(k)}::text AS k${i}`).join(', ')} FROM ${qualifiedName(t)} ORDER BY ${keys} OFFSET ${n} LIMIT 1`, rowMode: 'array', types: { getTypeParser: () => (v: string) => v } });
        if (r.rows[0]) out.push(r.rows[0] as string[]);
      }
    } finally {
      await c.end();
    }
  }
  return out;
}
