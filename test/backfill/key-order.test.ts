// A snapshot backfill whose target sorts the key differently from the source
// (an ICU collation on the source, C on the target; an SQLite NOCASE key)
// stops half-way and is resumed: every row arrives. Loaded without its key,
// the resumed run trimmed "the rows past the checkpoint" by a key range the
// target ordered its own way, deleting rows earlier batches had copied, and
// still reported success.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';
import { sqliteFile } from './sqlite-file.ts';

// odd numbers lower-case, even upper-case: ICU and NOCASE interleave them, C puts every upper-case key first
const key = (g: number) => `${g % 2 ? 'k' : 'K'}${String(g).padStart(4, '0')}`;

async function stopAndResume(source: string, targetUrl: string, dir: string, o: { verifyWarns: boolean; targetCollation?: string; refuse?: number; schemaCode?: number }): Promise<{ first: number; resumed: string }> {
  const args = ['--source', source, '--target', targetUrl, '--state', path.join(dir, 's.db'), '--report-dir', dir];
  // the rate cap ends an SQLite lock epoch after each batch, so each batch gets its checkpoint
  const copy = ['backfill', '--batch-size', '100', '--workers', '1', '--max-rate', '300'];
  expect((await cli(['schema', '--apply', ...args])).code).toBe(o.schemaCode ?? 0);
  // as when the new database's default collation is another one than the legacy one's
  if (o.targetCollation) await sql(targetUrl, `ALTER TABLE t ALTER COLUMN id TYPE text COLLATE ${o.targetCollation}`);
  // the target refuses one row for a while: the copy stops with a checkpoint a few batches in
  // (K0600 for row 650 in ICU and NOCASE order; in C order too, where the upper-case keys come first)
  await sql(targetUrl, `ALTER TABLE t ADD CONSTRAINT not_yet CHECK (v <> ${o.refuse ?? 650})`);
  const first = await cli([...copy, ...args]);
  expect(first.code).toBe(1);
  // (a loaded machine may read two batches per SQLite lock epoch: the checkpoint may come earlier, never at the start)
  expect(first.stderr).toMatch(/batch after key [^(]\S* failed/);
  expect(first.stderr).toContain('not_yet');
  await sql(targetUrl, `ALTER TABLE t DROP CONSTRAINT not_yet`);
  const resumed = await cli([...copy, '--resume', ...args]);
  expect(resumed.code).toBe(2); // a snapshot: the warning that nothing mirrors
  const v = await cli(['verify', ...args]);
  expect(v.stdout).toContain('all 1 table(s) equal (1000 rows)');
  // where the orders differ, verify warns that it compared in byte order
  expect(v.code).toBe(o.verifyWarns ? 2 : 0);
  return { first: first.code, resumed: resumed.stdout };
}

it('PostgreSQL source under an ICU collation, target under C: a resumed snapshot loses no row', async () => {
  const pair = await databasePair('key_order_pg');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-keyorder-'));
  await sql(pair.legacyUrl, `CREATE TABLE t (id text COLLATE "en-x-icu" PRIMARY KEY, v int);
    INSERT INTO t SELECT CASE WHEN g % 2 = 1 THEN 'k' ELSE 'K' END || lpad(g::text, 4, '0'), g FROM generate_series(1, 1000) g`);
  expect((await sql(pair.legacyUrl, `SELECT id FROM t ORDER BY id LIMIT 2`)).rows.map((r) => r.id)).toEqual([key(1), key(2)]);
  const { resumed } = await stopAndResume(pair.legacyUrl, pair.targetUrl, dir, { verifyWarns: true, targetCollation: '"C"' });
  // the key stayed: batches replayed merge by it instead of being trimmed by range
  expect(resumed).not.toContain('created primary key');
  expect((await sql(pair.targetUrl, `SELECT count(*)::int AS n FROM t`)).rows[0].n).toBe(1000);
});

it('SQLite source with a NOCASE text key (WITHOUT ROWID): a resumed snapshot loses no row', async () => {
  const pair = await databasePair('key_order_sqlite');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-keyorder-'));
  const file = sqliteFile(dir, `CREATE TABLE t (id TEXT COLLATE NOCASE PRIMARY KEY, v INTEGER) WITHOUT ROWID`, 1000, (g) => [key(g), g]);
  await stopAndResume(`sqlite://${file}`, pair.targetUrl, dir, { verifyWarns: true, schemaCode: 2 }); // schema lists the NOCASE key
  expect((await sql(pair.targetUrl, `SELECT count(*)::int AS n FROM t`)).rows[0].n).toBe(1000);
});

it('SQLite source with a key of no declared type holding numbers and text (WITHOUT ROWID): a resumed snapshot loses no row', async () => {
  const pair = await databasePair('key_order_sqlite_typeless');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-keyorder-'));
  // SQLite sorts the 500 numbers first, in numeric order (9 before 10); the target's text has '10' < '9'
  const file = sqliteFile(dir, `CREATE TABLE t (id PRIMARY KEY, v INTEGER) WITHOUT ROWID`, 1000, (g) => [g % 2 ? BigInt(g) : `k${g}`, BigInt(g)], { safeIntegers: true });
  // row 451 is the 226th number: the stop comes among the numbers (33 rows lost before)
  await stopAndResume(`sqlite://${file}`, pair.targetUrl, dir, { verifyWarns: false, refuse: 451, schemaCode: 2 }); // schema lists the type-less column
  expect((await sql(pair.targetUrl, `SELECT count(*)::int AS n FROM t`)).rows[0].n).toBe(1000);
});

it('same key order on both sides: the snapshot still loads without the key and builds it after', async () => {
  const pair = await databasePair('key_order_same');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-keyorder-'));
  await sql(pair.legacyUrl, `CREATE TABLE t (id text PRIMARY KEY, v int);
    INSERT INTO t SELECT CASE WHEN g % 2 = 1 THEN 'k' ELSE 'K' END || lpad(g::text, 4, '0'), g FROM generate_series(1, 1000) g`);
  const { resumed } = await stopAndResume(pair.legacyUrl, pair.targetUrl, dir, { verifyWarns: false });
  expect(resumed).toContain('created primary key t_pkey on t');
});
