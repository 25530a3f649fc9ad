// Reading batches from a PostgreSQL source: each batch's upper key is found
// with an index-only probe, then the rows stream straight from `COPY (SELECT …
// FOR SHARE) TO STDOUT` into the target's COPY: no row is parsed in between.
// The source transaction holding those row locks stays open until the target
// committed the batch, so concurrent mirrored updates and deletes of the rows
// wait and then reach the target after it.
import type { Readable } from 'node:stream';
import pg from 'pg';
import pgCopy from 'pg-copy-streams';
import { pgClient } from '../../common/pg-config.ts';
import type { TableDef } from '../schema/model.ts';
import { copiedSelectList, qi, ql, qualifiedName } from '../schema/model.ts';

const asText = { getTypeParser: () => (v: string) => v };

export class PgBatchReader {
  readonly client: pg.Client;

  constructor(url: string) {
    this.client = pgClient(url, { application_name: 'cutover backfill' });
    this.client.on('error', () => undefined);
  }

  async connect(): Promise<void> {
    await this.client.connect();
  }

  async end(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }

  /** Key of the `limit`-th row after `after` (and not past `upTo`), or null when fewer rows remain. */
  async upperBound(t: TableDef, after: string[] | null, limit: number, upTo: string[] | null = null): Promise<string[] | null> {
    const keys = t.key.map(qi).join(', ');
    const range = rangeOf(t, after, upTo);
    const where = range === 'true' ? '' : `WHERE ${range}`;
    const r = await this.client.query({
      // outputs aliased: ORDER BY "key" must mean the column, not a text output of the same name
      text: `SELECT ${t.key.map((k, i) => `${qi(k)}::text AS k${i}`).join(', ')} FROM ${qualifiedName(t)} ${where} ORDER BY ${keys} OFFSET ${limit - 1} LIMIT 1`,
      rowMode: 'array',
      types: asText,
    });
    return (r.rows[0] as string[] | undefined) ?? null;
  }

  /** A fresh COPY of the rows in (after, upTo], locking them FOR SHARE when a mirror could race the copy. */
  rows(t: TableDef, after: string[] | null, upTo: string[] | null, lock = true): () => Readable {
    const cols = copiedSelectList(t);
    const keys = t.key.map(qi).join(', ');
    const where = rangeOf(t, after, upTo);
    return () => this.client.query(pgCopy.to(`COPY (SELECT ${cols} FROM ${qualifiedName(t)} WHERE ${where} ORDER BY ${keys}${lock ? ' FOR SHARE' : ''}) TO STDOUT`));
  }
}

/** A key as a typed row literal, e.g. ('42'::bigint, 'a'::text). */
export function keyLiteral(t: TableDef, values: string[]): string {
  return `(${values.map((v, i) => `${ql(v)}::${t.columns.find((c) => c.name === t.key[i])!.type}`).join(', ')})`;
}

export function rangeOf(t: TableDef, after: string[] | null, upTo: string[] | null): string {
  const keys = `(${t.key.map(qi).join(', ')})`;
  const parts = [after ? `${keys} > ${keyLiteral(t, after)}` : null, upTo ? `${keys} <= ${keyLiteral(t, upTo)}` : null].filter(Boolean);
  return parts.length ? parts.join(' AND ') : 'true';
}
