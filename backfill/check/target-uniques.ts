// Duplicates under the target's unique constraints, decided by PostgreSQL
// itself: the key and the indexed columns of the source are copied into a
// temporary table with the target's types, and each unique index's own
// expressions (lower(email), say, where the source had a case-sensitive
// UNIQUE) are grouped there. Nothing is written to the target's tables.
import pg from 'pg';
import pgCopy from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { once } from 'node:events';
import { parseDbUrl } from '../../common/urls.ts';
import { openSqlite } from '../copy/sqlite-source.ts';
import { SQLITE_COPY_OPTIONS, sqliteCopyLine } from '../copy/sqlite-copy-text.ts';
import type { TableDef } from '../schema/model.ts';
import { qi, qualifiedName, tableLabel } from '../schema/model.ts';
import { SAMPLE_KEYS, type Finding } from './findings.ts';

interface UniqueIndex {
  name: string;
  exprs: string[];
  predicate: string | null;
  columns: string[];
}

async function uniqueIndexes(target: pg.Client, t: TableDef): Promise<UniqueIndex[]> {
  const r = await target.query<{ name: string; exprs: string[]; predicate: string | null; columns: string[] }>(`
    SELECT ic.relname AS name,
           array(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k) AS exprs,
           pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
           array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum > 0 AND NOT a.attisdropped
                   AND (a.attnum = ANY (i.indkey) OR pg_get_expr(i.indexprs, i.indrelid) ~ ('\\m' || a.attname || '\\M')
                        OR pg_get_expr(i.indpred, i.indrelid) ~ ('\\m' || a.attname || '\\M'))) AS columns
      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
     WHERE i.indrelid = to_regclass($1) AND i.indisunique AND NOT i.indisprimary`, [qualifiedName(t)]);
  return r.rows;
}

export async function targetUniqueFindings(sourceUrl: string, target: pg.Client, t: TableDef, sourcePg: pg.Client | null): Promise<Finding[]> {
  const indexes = await uniqueIndexes(target, t);
  if (!indexes.length) return [];
  const cols = [...new Set([...t.key, ...indexes.flatMap((i) => i.columns)])].filter((c) => t.columns.some((d) => d.name === c));
  const defs = cols.map((c) => t.columns.find((d) => d.name === c)!);
  const temp = qi(`cutover_check_${t.name}`.slice(0, 63));
  const out: Finding[] = [];
  await target.query('BEGIN');
  try {
    await target.query(`CREATE TEMP TABLE ${temp} ON COMMIT DROP AS SELECT ${cols.map(qi).join(', ')} FROM ${qualifiedName(t)} WITH NO DATA`);
    const src = parseDbUrl(sourceUrl, 'source');
    const into = target.query(pgCopy.from(`COPY ${temp} (${cols.map(qi).join(', ')}) FROM STDIN${src.kind === 'sqlite' ? ' ' + SQLITE_COPY_OPTIONS : ''}`));
    if (src.kind === 'sqlite') {
      const db = openSqlite(src.path, true);
      try {
        const it = db.prepare(`SELECT ${sqliteCopyLine(defs)} FROM ${qi(t.name)}`).pluck().iterate() as IterableIterator<string>;
        let buf: string[] = [];
        for (const line of it) {
          buf.push(line);
          if (buf.length === 5000) {
            if (!into.write(buf.join('\n') + '\n')) await once(into, 'drain');
            buf = [];
          }
        }
        into.end(buf.length ? buf.join('\n') + '\n' : undefined);
        await once(into, 'finish');
      } finally {
        db.close();
      }
    } else {
      await pipeline(sourcePg!.query(pgCopy.to(`COPY (SELECT ${cols.map(qi).join(', ')} FROM ${qualifiedName(t)}) TO STDOUT`)), into);
    }
    const keyText = t.key.map((k) => `${qi(k)}::text`).join(` || ', ' || `);
    for (const ix of indexes) {
      const notNull = ix.exprs.map((e) => `(${e}) IS NOT NULL`).join(' AND ');
      const dup = await target.query<{ n: number; keys: string[] }>(
        `SELECT count(*)::int AS n, (array_agg(${keyText}))[1:${SAMPLE_KEYS}] AS keys FROM ${temp}
          WHERE ${notNull}${ix.predicate ? ` AND (${ix.predicate})` : ''} GROUP BY ${ix.exprs.map((e) => `(${e})`).join(', ')} HAVING count(*) > 1`);
      if (!dup.rows.length) continue;
      const rows = dup.rows.reduce((a, r) => a + r.n, 0);
      out.push({
        severity: 'error', check: 'unique', table: tableLabel(t), column: ix.columns.join(', '), rows,
        keys: dup.rows.slice(0, SAMPLE_KEYS).map((r) => r.keys.join(' = ')),
        message: `${dup.rows.length} group(s) of source rows (${rows} rows) would collide under the target's unique index ${ix.name} (${ix.exprs.join(', ')}); keys listed per group`,
      });
    }
    await target.query('COMMIT');
  } catch (e) {
    await target.query('ROLLBACK').catch(() => undefined);
    out.push({ severity: 'warning', check: 'unique', table: tableLabel(t), message: `could not check the target's unique indexes: ${(e as Error).message}` });
  }
  return out;
}
