// Writes one batch into a target table as one transaction. Rows arrive as
// COPY text. When the batch's key range holds nothing on the target yet, the
// rows are copied straight into the table; otherwise (or when a mirrored write
// lands in the range meanwhile and the straight copy hits its key) they go
// through a per-session staging table and `INSERT … ON CONFLICT DO NOTHING`,
// so rows the mirror wrote during the backfill are newer and win.
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import pgCopy from 'pg-copy-streams';
import { pgClient } from '../../common/pg-config.ts';
import type { TableDef } from '../schema/model.ts';
import { copiedColumns, qi, qualifiedName } from '../schema/model.ts';
import { SQLITE_COPY_OPTIONS } from './sqlite-copy-text.ts';

/** Rows as COPY input: CSV bytes (from SQLite, whole or in chunks) or a COPY text stream (from PostgreSQL). */
export type RowSource = Buffer | Buffer[] | (() => Readable);

/** Buffers come from SQLite as CSV; streams from a PostgreSQL COPY TO in text format. */
const optionsFor = (rows: RowSource) => (typeof rows === 'function' ? '' : ' ' + SQLITE_COPY_OPTIONS);

export class TargetWriter {
  readonly client: pg.Client;
  private staged = new Set<string>();

  constructor(url: string) {
    this.client = pgClient(url, { application_name: 'cutover backfill' });
    this.client.on('error', () => undefined); // surfaces as the failing query
  }

  async connect(): Promise<void> {
    await this.client.connect();
    // the source already ran triggers and cascades; foreign keys come after the copy
    await this.client.query('SET session_replication_role = replica').catch(() => undefined);
    // zone-less timestamps mean UTC, whatever the server's default
    await this.client.query(`SET TimeZone = 'UTC'`);
  }

  async end(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }

  /**
   * Writes the rows of one key range and commits. `rangeSql` is the WHERE
   * clause of the range on the target; it decides whether the fast path is
   * safe. Null: a keyless load (keyless-load.ts), one bare COPY.
   */
  async writeBatch(t: TableDef, rows: RowSource, rangeSql: string | null): Promise<number> {
    const c = this.client;
    const cols = copiedColumns(t).map((x) => qi(x.name)).join(', ');
    if (rangeSql === null) return copyIn(this.client, `COPY ${qualifiedName(t)} (${cols}) FROM STDIN${optionsFor(rows)}`, rows);
    // one round trip for the transaction's start, the look at the range and the savepoint
    const opened = (await c.query(`BEGIN; SELECT EXISTS (SELECT 1 FROM ${qualifiedName(t)} WHERE ${rangeSql}) AS x; SAVEPOINT straight`)) as unknown as pg.QueryResult[];
    try {
      if (!opened[1]!.rows[0].x) {
        try {
          const n = await copyIn(this.client, `COPY ${qualifiedName(t)} (${cols}) FROM STDIN${optionsFor(rows)}`, rows);
          await c.query('COMMIT');
          return n;
        } catch (e) {
          // 23505: a mirrored write reached this range after the look; fall back to the merge
          if ((e as { code?: string }).code !== '23505') throw e;
          await c.query('ROLLBACK TO SAVEPOINT straight');
        }
      }
      // (an unused savepoint is released by the COMMIT)
      const stage = await this.stagingFor(t);
      await copyIn(this.client, `COPY ${stage} (${cols}) FROM STDIN${optionsFor(rows)}`, rows);
      const r = await c.query(`INSERT INTO ${qualifiedName(t)} (${cols}) OVERRIDING SYSTEM VALUE SELECT ${cols} FROM ${stage} ON CONFLICT DO NOTHING`);
      await c.query('COMMIT'); // ON COMMIT DELETE ROWS empties the stage
      return r.rowCount ?? 0;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  /** Replaces the target's rows under `where` with `rows`, in one transaction (repair). */
  async replaceRows(t: TableDef, where: string, rows: RowSource): Promise<number> {
    const c = this.client;
    const cols = copiedColumns(t).map((x) => qi(x.name)).join(', ');
    await c.query('BEGIN');
    try {
      await c.query(`DELETE FROM ${qualifiedName(t)} WHERE ${where}`);
      const n = await copyIn(this.client, `COPY ${qualifiedName(t)} (${cols}) FROM STDIN${optionsFor(rows)}`, rows);
      await c.query('COMMIT');
      return n;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }

  private async stagingFor(t: TableDef): Promise<string> {
    const name = qi(`cutover_stage_${t.schema}_${t.name}`.slice(0, 63));
    if (!this.staged.has(name)) {
      await this.client.query(`CREATE TEMP TABLE IF NOT EXISTS ${name} (LIKE ${qualifiedName(t)}) ON COMMIT DELETE ROWS`);
      this.staged.add(name);
    }
    return name;
  }
}

/** COPY … FROM STDIN of `rows` on `c`; returns the rows PostgreSQL took. */
export async function copyIn(c: pg.Client, sql: string, rows: RowSource): Promise<number> {
  const stream = c.query(pgCopy.from(sql));
  // a connection killed mid-COPY can report its error after pipeline/once stopped listening: without
  // a listener that late 'error' would crash the process; the dead connection fails the next query anyway
  stream.on('error', () => undefined);
  if (typeof rows === 'function') {
    await pipeline(rows(), stream);
  } else {
    // chunks are written as they are: the socket takes them in turn, nothing is joined
    for (const b of Buffer.isBuffer(rows) ? [rows] : rows) stream.write(b);
    stream.end();
    await once(stream, 'finish');
  }
  return Number((stream as unknown as { rowCount: number }).rowCount ?? 0);
}

/** WHERE clause for keys in (lo, hi] with literal bounds (COPY takes no parameters). */
export function rangeWhere(t: TableDef, lo: string | null, hi: string | null): string {
  const keys = `(${t.key.map(qi).join(', ')})`;
  const parts = [lo ? `${keys} > ${lo}` : null, hi ? `${keys} <= ${hi}` : null].filter(Boolean);
  return parts.length ? parts.join(' AND ') : 'true';
}
