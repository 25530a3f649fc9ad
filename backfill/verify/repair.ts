// --repair: the target's rows for the differing keys are replaced by the
// source's, a few hundred keys per transaction, while the source holds those
// rows (SQLite write lock, or FOR SHARE on PostgreSQL) so that no mirrored
// write to them can slip between the read and the rewrite.
import pgCopy from 'pg-copy-streams';
import { parseDbUrl } from '../../common/urls.ts';
import { openSqlite, SqliteBatchReader } from '../copy/sqlite-source.ts';
import { sqliteCopyLine } from '../copy/sqlite-copy-text.ts';
import { TargetWriter } from '../copy/target-writer.ts';
import { copiedColumns, copiedSelectList, qi, qualifiedName } from '../schema/model.ts';
import type { Difference } from './run-verify.ts';
import { PgSide, sqliteKey, type TablePair } from './sides.ts';

const PART = 500;

export async function repairRows(sourceUrl: string, targetUrl: string, pair: TablePair, diffs: Difference[]): Promise<number> {
  const src = parseDbUrl(sourceUrl, 'source');
  const writer = new TargetWriter(targetUrl);
  await writer.connect();
  const targetKeys = new PgSide(targetUrl, 'target'); // only for its key literals; never connected
  const t = pair.def;
  let fixed = 0;
  try {
    if (src.kind === 'sqlite') {
      const reader = new SqliteBatchReader(openSqlite(src.path));
      const keys = t.key.map(qi).join(', ');
      const tuple = `(${t.key.map(() => '?').join(', ')})`;
      try {
        for (let i = 0; i < diffs.length; i += PART) {
          const part = diffs.slice(i, i + PART);
          const raw = part.flatMap((d) => sqliteKey(pair, d.key));
          await reader.lock();
          try {
            const lines = reader.db.prepare(`SELECT ${sqliteCopyLine(copiedColumns(t))} FROM ${qi(t.name)} WHERE (${keys}) IN (VALUES ${part.map(() => tuple).join(', ')})`).pluck().all(...raw) as string[];
            await writer.replaceRows(t, targetKeys.keysWhere(pair, part.map((d) => d.key)), Buffer.from(lines.map((l) => l + '\n').join('')));
            fixed += part.length;
          } finally {
            reader.unlock();
          }
        }
      } finally {
        reader.db.close();
      }
      return fixed;
    }
    const source = new PgSide(sourceUrl, 'source');
    await source.connect();
    try {
      const cols = copiedSelectList(t);
      for (let i = 0; i < diffs.length; i += PART) {
        const part = diffs.slice(i, i + PART);
        await source.client.query('BEGIN');
        try {
          const where = source.keysWhere(pair, part.map((d) => d.key));
          const copy = () => source.client.query(pgCopy.to(`COPY (SELECT ${cols} FROM ${qualifiedName(t)} WHERE ${where} FOR SHARE) TO STDOUT`));
          await writer.replaceRows(t, targetKeys.keysWhere(pair, part.map((d) => d.key)), copy);
          await source.client.query('COMMIT');
          fixed += part.length;
        } catch (e) {
          await source.client.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      }
      return fixed;
    } finally {
      await source.end();
    }
  } finally {
    await writer.end();
  }
}
