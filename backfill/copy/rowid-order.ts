// Reading an SQLite table in the order its rows are stored (rowid order)
// instead of key order, for a snapshot loaded without the target's key
// (keyless-load.ts), where the order rows arrive in does not matter. A table
// whose key is not its rowid (a TEXT key, a composite key) keeps its rows in
// rowid order and its key in a separate index: read in key order, every row
// costs a lookup from that index into the table, at scattered pages (measured:
// 500,000 sessions rows 1.0 s in key order, 0.26 s in rowid order).
//
// Positions are then rowids: a range is a rowid span, a checkpoint the rowid
// (with the key) of the last row copied. The rows past a checkpoint cannot be
// found on the target by rowid, so they are removed by their keys, read from
// the source. A rowid can change under VACUUM when it is not an INTEGER
// PRIMARY KEY; a resumed load first makes sure every saved position still
// holds the row it held, and refuses to go on otherwise.
import type Database from 'better-sqlite3';
import type pg from 'pg';
import type { TableDef } from '../schema/model.ts';
import { qi, qualifiedName, tableLabel } from '../schema/model.ts';
import { encodeKey, type Key } from './keys.ts';
import { SQLITE_COPY_OPTIONS, sqliteCopyLine } from './sqlite-copy-text.ts';
import { copyIn } from './target-writer.ts';

/** Checkpoint label marking a table whose positions are rowids. */
export const rowidLabel = (table: string) => `${table}#rowid`;

const KEYS_PER_CHUNK = 10_000;

/** The name that reaches the rowid (a column may be called rowid), or null when every alias is taken. */
export function rowidName(t: TableDef): string | null {
  const taken = new Set(t.columns.map((c) => c.name.toLowerCase()));
  return ['rowid', '_rowid_', 'oid'].find((n) => !taken.has(n)) ?? null;
}

/** An INTEGER PRIMARY KEY: the key is the rowid itself, and key order is rowid order. */
export const keyIsRowid = (t: TableDef): boolean => t.key.length === 1 && Boolean(t.columns.find((c) => c.name === t.key[0])?.identity);

const WITHOUT_ROWID = /WITHOUT\s+ROWID\s*$/i;
const tableSql = (db: Database.Database, table: string): string => String(db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`).pluck().get(table) ?? '').trim();

/** A WITHOUT ROWID table: its rows live in its key's b-tree. */
export const withoutRowid = (db: Database.Database, table: string): boolean => WITHOUT_ROWID.test(tableSql(db, table));

/** Whether reading the table in rowid order avoids lookups: a rowid table whose key is not the rowid itself. */
export function rowidOrderPays(db: Database.Database, t: TableDef): boolean {
  if (!rowidName(t) || keyIsRowid(t)) return false;
  const sql = tableSql(db, t.name);
  return sql !== '' && !WITHOUT_ROWID.test(sql);
}

/** A position as saved: the rowid, then the key of the row there (what resumption checks it against). */
export function position(db: Database.Database, t: TableDef, rowid: bigint): Key {
  return [rowid, ...keyAt(db, t, rowid) ?? []];
}

function keyAt(db: Database.Database, t: TableDef, rowid: bigint): Key | null {
  const row = db.prepare(`SELECT ${t.key.map(qi).join(', ')} FROM ${qi(t.name)} WHERE ${rowidName(t)} = ?`).raw(true).get(rowid) as Key | undefined;
  return row ?? null;
}

/** Throws unless every saved position (rowid with its key) still holds the same row on the source. */
export function checkPositions(db: Database.Database, t: TableDef, positions: Key[]): void {
  for (const p of positions) {
    if (p.length < 2) continue; // a bare rowid (a split point) names no row
    const now = keyAt(db, t, p[0] as bigint);
    if (!now || encodeKey(now) !== encodeKey(p.slice(1))) {
      throw new Error(`${tableLabel(t)}: the interrupted load read it by row id, and row id ${String(p[0])} no longer holds the row it held (rows deleted, or the file vacuumed, since): it cannot resume safely; TRUNCATE ${qualifiedName(t)} on the target and run the backfill again without --resume`);
    }
  }
}

/**
 * Removes from the target the rows whose source rowid lies in (after, upTo]:
 * what an interrupted attempt may have written past its checkpoint. Their
 * keys are read from the source, a chunk at a time, into a temporary table;
 * one DELETE joins it.
 */
export async function trimRowidSpan(c: pg.Client, db: Database.Database, t: TableDef, after: bigint | null, upTo: bigint | null): Promise<void> {
  const r = rowidName(t)!;
  const keyCols = t.key.map((k) => t.columns.find((c) => c.name === k)!);
  const temp = qi(`cutover_trim_${t.name}`.slice(0, 63));
  await c.query(`CREATE TEMP TABLE IF NOT EXISTS ${temp} AS SELECT ${t.key.map(qi).join(', ')} FROM ${qualifiedName(t)} WITH NO DATA; TRUNCATE ${temp}`);
  const chunk = (lower: boolean) => db.prepare(`SELECT group_concat(l, char(10)), count(*), max(_r) FROM (SELECT ${sqliteCopyLine(keyCols)} AS l, ${r} AS _r FROM ${qi(t.name)}
    WHERE ${[lower ? `${r} > ?` : '', upTo === null ? '' : `${r} <= ?`].filter(Boolean).join(' AND ') || 'true'} ORDER BY ${r} LIMIT ?)`).raw(true);
  const [first, next] = [chunk(false), chunk(true)];
  for (let from = after; ;) {
    const [text, n, last] = (from === null ? first : next).get(...(from === null ? [] : [from]), ...(upTo === null ? [] : [upTo]), KEYS_PER_CHUNK) as [string | null, bigint, bigint | null];
    if (!Number(n)) break;
    await copyIn(c, `COPY ${temp} FROM STDIN ${SQLITE_COPY_OPTIONS}`, [Buffer.from(text + '\n')]);
    if (Number(n) < KEYS_PER_CHUNK) break;
    from = last;
  }
  await c.query(`DELETE FROM ${qualifiedName(t)} x USING ${temp} k WHERE ${t.key.map((k) => `x.${qi(k)} = k.${qi(k)}`).join(' AND ')}`);
}
