// Loading a snapshot without the target's primary-key index, the way pg_dump
// and pgloader do: when nothing mirrors (no change capture, so no writer but
// the backfill touches the target) and the target table starts empty, its
// primary key is dropped, batches go in with a bare COPY, and the key is
// built back by one sort once the table is in (post-copy.ts), instead of a
// million single-row index inserts. Without the index nothing could tell a
// replayed batch from a new one, so the rows past the last checkpoint are
// removed before any (re)start: every row at or below it was committed once.
import type Database from 'better-sqlite3';
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

/** How a column orders its values: null for a type without collation, else the collation's provider and locale. */
type ColumnOrder = { provider: string; locale: string; deterministic: boolean } | null;

// The column's collation resolved to what decides its order: "default" stands for the database's own,
// which differs between two servers as often as not (en_US on one, C on the other). Read through
// to_jsonb so the catalog columns of PostgreSQL 12 to 17 (colliculocale, colllocale, datlocprovider) all do.
const COLUMN_ORDER_SQL = `
  SELECT a.attname AS name, a.attcollation <> 0 AS collatable, to_jsonb(co) AS coll, to_jsonb(d) AS db
    FROM pg_attribute a LEFT JOIN pg_collation co ON co.oid = a.attcollation
    JOIN pg_database d ON d.datname = current_database()
   WHERE a.attrelid = to_regclass($1) AND a.attname = ANY($2)`;

const BYTE_ORDER = 'libc:c';

function resolveOrder(row: { collatable: boolean; coll: Record<string, unknown> | null; db: Record<string, unknown> }): ColumnOrder {
  if (!row.collatable || !row.coll) return null;
  const c = row.coll;
  const d = row.db;
  let provider = String(c.collprovider ?? 'c');
  let locale: unknown;
  if (provider === 'd') {
    provider = String(d.datlocprovider ?? 'c');
    locale = provider === 'i' ? d.datlocale ?? d.daticulocale : d.datcollate;
  } else {
    locale = provider === 'i' ? c.colllocale ?? c.colliculocale ?? c.collcollate : c.collcollate;
  }
  // C, POSIX and their .UTF-8 spellings all compare bytes (no glibc table involved for C/POSIX; C.UTF-8 is codepoint = UTF-8 byte order)
  const norm = String(locale ?? '').toLowerCase().replace(/[-_]/g, '');
  const byBytes = provider === 'c' && ['c', 'posix', 'c.utf8'].includes(norm);
  return { provider: byBytes ? 'libc' : provider, locale: byBytes ? 'c' : norm, deterministic: c.collisdeterministic !== false };
}

async function columnOrders(c: pg.Client, t: TableDef): Promise<Map<string, ColumnOrder>> {
  const r = await c.query<{ name: string; collatable: boolean; coll: Record<string, unknown> | null; db: Record<string, unknown> }>(COLUMN_ORDER_SQL, [qualifiedName(t), t.key]);
  return new Map(r.rows.map((row) => [row.name, resolveOrder(row)]));
}

const orderText = (o: ColumnOrder | undefined) => (o ? `${o.provider}:${o.locale}${o.deterministic ? '' : ':nondeterministic'}` : 'none');

/**
 * Whether the target sorts the table's key as the source does. A load
 * without the key index trims "the rows past the checkpoint" on the target
 * (trimPast), a range in the source's key order: under another collation
 * (en_US on the source, C on the target, or ICU against libc) that range
 * holds other rows, and rows copied by earlier batches were deleted and
 * never copied again. Null when the orders agree, else why not.
 */
export async function keyOrderDiffers(target: pg.Client, t: TableDef, source: { kind: 'postgres'; client: pg.Client } | { kind: 'sqlite'; db: Database.Database }): Promise<string | null> {
  const tgt = await columnOrders(target, t);
  if (source.kind === 'postgres') {
    const src = await columnOrders(source.client, t);
    for (const k of t.key) {
      const [a, b] = [orderText(src.get(k)), orderText(tgt.get(k))];
      if (a !== b) return `key column ${k} sorts by ${a} on the source, ${b} on the target`;
    }
    return null;
  }
  // SQLite compares a key by its storage class first, then BINARY (memcmp), NOCASE or RTRIM: the target
  // sorts the same only for integer, real and blob keys, and for text under BINARY against a byte-order collation
  const colls = sqliteKeyCollations(source.db, t);
  for (const k of t.key) {
    const type = t.columns.find((c) => c.name === k)?.type.toLowerCase() ?? '';
    const order = tgt.get(k);
    if (['bigint', 'integer', 'smallint', 'double precision', 'bytea'].includes(type) && !order) continue;
    const coll = colls.get(k) ?? 'BINARY';
    if (coll !== 'BINARY') return `key column ${k} has collation ${coll} in the SQLite file`;
    // only TEXT affinity makes every value text: in a column of no declared type (or NUMERIC) SQLite
    // keeps 9 and 10 as numbers, before any text and in numeric order, where the target has '10' < '9'
    const declared = t.columns.find((c) => c.name === k)?.sourceType ?? '';
    if (/INT/i.test(declared) || !/CHAR|CLOB|TEXT/i.test(declared)) return `key column ${k} (${declared || 'no declared type'}) may hold numbers and text alike in the SQLite file, which sorts them apart`;
    if (!order || orderText(order) !== BYTE_ORDER) return `key column ${k} (${type}) sorts by ${orderText(order)} on the target, by bytes in the SQLite file`;
  }
  return null;
}

/** The collation of each primary-key column (from the key's index; an INTEGER PRIMARY KEY has none and needs none). */
export function sqliteKeyCollations(db: Database.Database, t: TableDef): Map<string, string> {
  const pk = (db.prepare(`SELECT name FROM pragma_index_list(?) WHERE origin = 'pk'`).pluck().get(t.name) as string | undefined);
  if (!pk) return new Map();
  const rows = db.prepare(`SELECT name, coll FROM pragma_index_xinfo(?) WHERE key = 1 AND name IS NOT NULL`).all(pk) as { name: string; coll: string }[];
  return new Map(rows.map((r) => [r.name, r.coll.toUpperCase()]));
}
