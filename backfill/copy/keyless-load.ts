// Loading a snapshot without the target's primary-key index, the way pg_dump
// and pgloader do: when nothing mirrors (no change capture, so no writer but
// the backfill touches the target) and the target table starts empty, its
// primary key is dropped, batches go in with a bare COPY, and the key is
// built back by one sort once the table is in (post-copy.ts), instead of a
// million single-row index inserts. Without the index nothing could tell a
// replayed batch from a new one, so the rows past the last checkpoint are
// removed before any (re)start: every row at or below it was committed once.
import type pg from 'pg';
import type { TableDef } from '../schema/model.ts';
import { qi, qualifiedName, tableLabel } from '../schema/model.ts';

export interface KeyState {
  /** The primary-key constraint's name, or null when the table has none (an interrupted keyless load). */
  name: string | null;
  empty: boolean;
}

export async function targetKeyState(c: pg.Client, t: TableDef): Promise<KeyState> {
  const r = await c.query<{ name: string | null; empty: boolean }>(
    `SELECT (SELECT conname FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p') AS name,
            NOT EXISTS (SELECT 1 FROM ${qualifiedName(t)}) AS empty`, [qualifiedName(t)]);
  return r.rows[0]!;
}

/** Drops the primary key of an empty table; false (key kept) when something depends on it, e.g. a foreign key. */
export async function dropKey(c: pg.Client, t: TableDef, name: string): Promise<boolean> {
  try {
    await c.query(`ALTER TABLE ${qualifiedName(t)} DROP CONSTRAINT ${qi(name)}`);
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === '2BP01') return false; // dependent objects
    throw e;
  }
}

/** Removes what batches may have written in `rangeSql` (past a checkpoint) without their checkpoint being saved. */
export async function trimPast(c: pg.Client, t: TableDef, rangeSql: string): Promise<void> {
  await c.query(rangeSql === 'true' ? `TRUNCATE ${qualifiedName(t)}` : `DELETE FROM ${qualifiedName(t)} WHERE ${rangeSql}`);
}

/** The name a primary key gets back: the one it had, else PostgreSQL's own default. */
export function keyName(t: TableDef, dropped: string | null): string {
  return dropped ?? `${t.name}_pkey`.slice(0, 63);
}

/**
 * The key built back as a unique index, then attached: building the index
 * takes a lock that lets the table's other index builds run beside it (ADD
 * PRIMARY KEY would lock them out). A retry finds the index already built.
 */
export function addKeySql(t: TableDef, name: string): [string, string] {
  return [
    `CREATE UNIQUE INDEX IF NOT EXISTS ${qi(name)} ON ${qualifiedName(t)} (${t.key.map(qi).join(', ')})`,
    `ALTER TABLE ${qualifiedName(t)} ADD CONSTRAINT ${qi(name)} PRIMARY KEY USING INDEX ${qi(name)}`,
  ];
}

export class KeylessError extends Error {
  constructor(t: TableDef, cause: string) {
    super(`target table ${tableLabel(t)} has no primary key (an interrupted snapshot load?) and ${cause}: run \`cutover backfill --resume\` to finish that load, or empty the table`);
  }
}
