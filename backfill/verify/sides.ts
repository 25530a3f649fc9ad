// The two sides of a diff, read chunk by chunk in key order. PostgreSQL hashes
// a chunk's canonical rows itself (md5 of string_agg), so equal chunks cost one
// small result per side; rows travel only for chunks that differ. An SQLite
// source is read in-process and hashed here.
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import pg from 'pg';
import { namesItsDatabase } from '../../common/errors.ts';
import { pgClient } from '../../common/pg-config.ts';
import type { TableDef } from '../schema/model.ts';
import { qi, ql, qualifiedName } from '../schema/model.ts';
import { keyText, type Key } from '../copy/keys.ts';
import { pgCanonical, sqliteCanonical, typeClass, type TypeClass } from './canonical.ts';

export interface Row {
  /** Canonical key text: identifies the row on both sides. */
  id: string;
  /** Key values as text, for literals in later queries. */
  keyText: string[];
  /** Raw SQLite key values (SQLite source only). */
  keyRaw?: Key;
  cols: string[];
}

/** One row as a streamed comparison sees it: its identity and the digest of its canonical columns. */
export interface RowDigest {
  id: string;
  keyText: string[];
  keyRaw?: Key;
  hash: string;
}

/** Name of the cursor a streamed comparison reads a PostgreSQL side through. */
const CURSOR = 'cutover_verify_rows';

export interface Chunk {
  count: number;
  hash: string | null;
}

/** A table as both sides see it: the columns compared, with each side's types. */
export interface TablePair {
  def: TableDef;
  columns: string[];
  sourceTypes: string[];
  targetTypes: string[];
  /**
   * Key columns ordered and ranged in byte order on both sides (COLLATE "C"; BINARY in SQLite), because
   * the two sides would sort them differently (SQLite's BINARY or NOCASE against a target collation,
   * two PostgreSQL databases under different collations). Empty: each side's own key order.
   */
  byteOrder: string[];
  /** The source is an SQLite file (values compared as the target column holds them). */
  fromSqlite: boolean;
}

const asText = { getTypeParser: () => (v: string) => v };

export class PgSide {
  readonly client: pg.Client;
  constructor(url: string, readonly role: 'source' | 'target') {
    this.client = pgClient(url, { application_name: 'cutover verify' });
    this.client.on('error', () => undefined);
  }
  async connect(): Promise<void> {
    try {
      await this.client.connect();
      await this.client.query(`SET TimeZone = 'UTC'`);
    } catch (e) {
      if (namesItsDatabase(e)) throw e;
      throw new Error(`${this.role}: ${(e as Error).message}`, { cause: e });
    }
  }
  async end(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }

  private types(p: TablePair) {
    return this.role === 'source' ? p.sourceTypes : p.targetTypes;
  }
  /** The key's columns as text, aliased: ORDER BY "key" must mean the column, not a text output of the same name. */
  private keyTexts(p: TablePair): string {
    return p.def.key.map((k, i) => `${qi(k)}::text AS k${i}`).join(', ');
  }
  private keyCols(p: TablePair): string[] {
    return p.def.key.map((k) => (p.byteOrder.includes(k) ? `${qi(k)} COLLATE "C"` : qi(k)));
  }
  private literal(p: TablePair, values: string[]): string {
    const types = this.types(p);
    return `(${values.map((v, i) => `${ql(v)}::${types[p.columns.indexOf(p.def.key[i]!)] ?? 'text'}`).join(', ')})`;
  }
  where(p: TablePair, lo: string[] | null, hi: string[] | null): string {
    const k = `(${this.keyCols(p).join(', ')})`;
    const parts = [lo ? `${k} > ${this.literal(p, lo)}` : null, hi ? `${k} <= ${this.literal(p, hi)}` : null].filter(Boolean);
    return parts.length ? parts.join(' AND ') : 'true';
  }
  private rowExpr(p: TablePair): string {
    const types = this.types(p);
    return `concat_ws('|', ${p.columns.map((c, i) => pgCanonical(c, types[i]!, p.fromSqlite)).join(', ')})`;
  }

  /** Key of the n-th row after lo (the chunk's upper bound), or null when fewer remain. */
  async upperBound(p: TablePair, lo: string[] | null, n: number): Promise<string[] | null> {
    const r = await this.client.query({
      text: `SELECT ${this.keyTexts(p)} FROM ${qualifiedName(p.def)} WHERE ${this.where(p, lo, null)} ORDER BY ${this.keyCols(p).join(', ')} OFFSET ${n - 1} LIMIT 1`,
      rowMode: 'array', types: asText,
    });
    return (r.rows[0] as string[] | undefined) ?? null;
  }

  async hash(p: TablePair, lo: string[] | null, hi: string[] | null): Promise<Chunk> {
    const r = await this.client.query<{ n: number; h: string | null }>(
      // each row's digest, not its text, goes into the aggregate: 5000 rows of 1 MB would pass
      // string_agg's 1 GB limit (verify failed with "out of memory" on tables of wide rows)
      `SELECT count(*)::int AS n, md5(string_agg(md5(${this.rowExpr(p)}), E'\\n' ORDER BY ${this.keyCols(p).join(', ')})) AS h FROM ${qualifiedName(p.def)} WHERE ${this.where(p, lo, hi)}`);
    return { count: r.rows[0]!.n, hash: r.rows[0]!.h };
  }

  async rows(p: TablePair, where: string): Promise<Row[]> {
    const types = this.types(p);
    const keyIdx = p.def.key.map((k) => p.columns.indexOf(k));
    const r = await this.client.query({
      text: `SELECT ${this.keyTexts(p)}, ${p.columns.map((c, i) => `${digestSql(pgCanonical(c, types[i]!, p.fromSqlite))} AS c${i}`).join(', ')}
               FROM ${qualifiedName(p.def)} WHERE ${where} ORDER BY ${this.keyCols(p).join(', ')}`,
      rowMode: 'array', types: asText,
    });
    const nk = p.def.key.length;
    return (r.rows as string[][]).map((row) => {
      const cols = row.slice(nk);
      return { id: keyIdx.map((i) => cols[i]).join('|'), keyText: row.slice(0, nk), cols };
    });
  }

  /**
   * Every row's identity and digest in key order, `batch` rows at a time,
   * from one snapshot, through a cursor: a single sort of the table. For keys
   * compared in byte order, which no index of the side's own collation serves:
   * each chunk's range would be a scan and a sort of the whole table (a
   * million rows took four times as long to verify as under one collation,
   * and the gap grows with the square of the table).
   */
  async *digests(p: TablePair, batch: number): AsyncGenerator<RowDigest[]> {
    const types = this.types(p);
    const keyIdx = p.def.key.map((k) => p.columns.indexOf(k));
    const nk = keyIdx.length;
    await this.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    let ok = false;
    try {
      // the first FETCH sorts the whole table, and the transaction waits idle while the other side reads:
      // a role's statement or idle-in-transaction timeout must not end it (pg_dump sets both to 0 too)
      await this.client.query('SET LOCAL statement_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0');
      await this.client.query(`DECLARE ${CURSOR} NO SCROLL CURSOR FOR
        SELECT ${this.keyTexts(p)},
               ${keyIdx.map((c, i) => `${digestSql(pgCanonical(p.columns[c]!, types[c]!, p.fromSqlite))} AS i${i}`).join(', ')},
               md5(${this.rowExpr(p)}) AS h
          FROM ${qualifiedName(p.def)} ORDER BY ${this.keyCols(p).join(', ')}`);
      for (;;) {
        const r = await this.client.query({ text: `FETCH ${batch} FROM ${CURSOR}`, rowMode: 'array', types: asText });
        const rows = r.rows as string[][];
        if (rows.length) yield rows.map((row) => ({ id: row.slice(nk, 2 * nk).join('|'), keyText: row.slice(0, nk), hash: row[2 * nk]! }));
        if (rows.length < batch) break;
      }
      ok = true;
    } finally {
      // also when the comparison stopped early: the snapshot is let go either way
      await this.client.query(ok ? 'COMMIT' : 'ROLLBACK').catch(() => undefined);
    }
  }

  /** WHERE clause selecting exactly these keys. */
  keysWhere(p: TablePair, keys: string[][]): string {
    if (!keys.length) return 'false';
    return `(${p.def.key.map(qi).join(', ')}) IN (${keys.map((k) => this.literal(p, k)).join(', ')})`;
  }
}

/**
 * Values longer than this are compared by their md5 once a chunk is narrowed
 * to rows: the rows of a differing chunk are held in memory on both sides,
 * and 5000 rows of 50 MB would not fit.
 */
const DIGEST_OVER = 256;
const digestSql = (e: string) => `(SELECT CASE WHEN octet_length(v) > ${DIGEST_OVER} THEN 'md5:' || md5(v) ELSE v END FROM (SELECT ${e} AS v) x)`;
const digest = (v: string) => (Buffer.byteLength(v) > DIGEST_OVER ? 'md5:' + createHash('md5').update(v).digest('hex') : v);

export class SqliteSide {
  private stmts = new Map<string, Database.Statement>();
  constructor(readonly db: Database.Database) {}

  private classes(p: TablePair): TypeClass[] {
    return p.targetTypes.map(typeClass);
  }

  /**
   * The compared columns as selected: a REAL going into a text or numeric column is read as SQLite's
   * own text of it (1.0, 1.0e+25), what the copy wrote there (sqlite-copy-text.ts); JavaScript's
   * (1, 1e+25) differed, and every such row was reported different.
   */
  private selectList(p: TablePair): string {
    const classes = this.classes(p);
    return p.columns.map((c, i) => (classes[i] === 'text' || classes[i] === 'numeric' ? `CASE WHEN typeof(${qi(c)}) = 'real' THEN CAST(${qi(c)} AS TEXT) ELSE ${qi(c)} END` : qi(c))).join(', ');
  }

  /** The key as both reads order it: byte order (BINARY) for the columns that need it. */
  private keyOrder(p: TablePair): string {
    return p.def.key.map((k) => (p.byteOrder.includes(k) ? `${qi(k)} COLLATE BINARY` : qi(k))).join(', ');
  }

  private toRow(p: TablePair, classes: TypeClass[], r: unknown[]): Row {
    const nk = p.def.key.length;
    const values = r.slice(nk);
    const cols = values.map((v, i) => digest(sqliteCanonical(v, classes[i]!)));
    const keyRaw = r.slice(0, nk) as Key;
    const keyIdx = p.def.key.map((k) => p.columns.indexOf(k));
    return { id: keyIdx.map((i) => cols[i]).join('|'), keyText: keyText(keyRaw), keyRaw, cols };
  }

  /**
   * The next chunk after lo: its hash, last key, and its rows (canonical),
   * built only when asked for (a chunk that differs): equal chunks, nearly
   * all of them, cost one string per row.
   */
  chunk(p: TablePair, lo: Key | null, n: number): { rows: () => Row[]; chunk: Chunk; last: Key | null; lastText: string[] | null; full: boolean } {
    const keys = this.keyOrder(p);
    const id = `${p.def.name}:${lo !== null}`;
    let s = this.stmts.get(id);
    if (!s) {
      const where = lo ? `WHERE (${keys}) > (${p.def.key.map(() => '?').join(', ')})` : '';
      s = this.db.prepare(`SELECT ${keys}, ${this.selectList(p)} FROM ${qi(p.def.name)} ${where} ORDER BY ${keys} LIMIT ?`).raw(true);
      this.stmts.set(id, s);
    }
    const classes = this.classes(p);
    const nk = p.def.key.length;
    const raw = s.all(...(lo ?? []), n) as unknown[][];
    const h = createHash('md5');
    for (let i = 0; i < raw.length; i++) {
      const r = raw[i]!;
      let line = '';
      for (let c = 0; c < classes.length; c++) line += (c ? '|' : '') + sqliteCanonical(r[nk + c], classes[c]!);
      h.update((i ? '\n' : '') + createHash('md5').update(line).digest('hex'));
    }
    const lastRow = raw[raw.length - 1];
    const last = lastRow ? (lastRow.slice(0, nk) as Key) : null;
    return {
      rows: () => raw.map((r) => this.toRow(p, classes, r)),
      chunk: { count: raw.length, hash: raw.length ? h.digest('hex') : null },
      last,
      lastText: last ? keyText(last) : null,
      full: raw.length === n,
    };
  }

  /** As PgSide.digests: every row's identity and digest in key order, `batch` rows at a time, in one pass. */
  *digests(p: TablePair, batch: number): Generator<RowDigest[]> {
    const keys = this.keyOrder(p);
    const classes = this.classes(p);
    const nk = p.def.key.length;
    const keyIdx = p.def.key.map((k) => p.columns.indexOf(k));
    const rows = this.db.prepare(`SELECT ${keys}, ${this.selectList(p)} FROM ${qi(p.def.name)} ORDER BY ${keys}`).raw(true).iterate() as IterableIterator<unknown[]>;
    let out: RowDigest[] = [];
    for (const r of rows) {
      const values: string[] = [];
      for (let c = 0; c < classes.length; c++) values.push(sqliteCanonical(r[nk + c], classes[c]!));
      const keyRaw = r.slice(0, nk) as Key;
      out.push({ id: keyIdx.map((i) => digest(values[i]!)).join('|'), keyText: keyText(keyRaw), keyRaw, hash: createHash('md5').update(values.join('|')).digest('hex') });
      if (out.length === batch) {
        yield out;
        out = [];
      }
    }
    if (out.length) yield out;
  }

  rowsByKeys(p: TablePair, keys: Key[]): Row[] {
    if (!keys.length) return [];
    const k = p.def.key.map(qi).join(', ');
    const tuple = `(${p.def.key.map(() => '?').join(', ')})`;
    const out: Row[] = [];
    const classes = this.classes(p);
    for (let i = 0; i < keys.length; i += 200) {
      const part = keys.slice(i, i + 200);
      const sql = `SELECT ${k}, ${this.selectList(p)} FROM ${qi(p.def.name)} WHERE (${k}) IN (VALUES ${part.map(() => tuple).join(', ')}) ORDER BY ${k}`;
      for (const r of this.db.prepare(sql).raw(true).all(...part.flat()) as unknown[][]) out.push(this.toRow(p, classes, r));
    }
    return out;
  }
}

/** An SQLite key value from its text, as the target column's type says it is stored. */
export function sqliteKey(pair: TablePair, text: string[]): Key {
  return text.map((v, i) => {
    const cls = typeClass(pair.targetTypes[pair.columns.indexOf(pair.def.key[i]!)]!);
    if (cls === 'int') return BigInt(v);
    if (cls === 'bytea') return Buffer.from(v.replace(/^\\x/, ''), 'hex');
    if (cls === 'float' || cls === 'numeric') return Number(v);
    return v;
  });
}
