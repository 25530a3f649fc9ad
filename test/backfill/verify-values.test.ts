// verify between two PostgreSQL databases on values at the edges: every one
// compares equal after a backfill (no column type stops it), and every
// change made on the target behind its back is found. It called a BC date
// equal to its AD twin and an infinite date equal to NULL (to_char), 1.0
// equal to 1.00 (trim_scale), and failed outright on numeric[] and
// timestamptz[] columns and on dates past the timestamp range.
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

it('edge values compare equal after a copy, and each change on the target is reported with its column', async () => {
  const pair = await databasePair('verify_values');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-verify-values-'));
  await sql(pair.legacyUrl, `
    CREATE TABLE e (id int PRIMARY KEY, d date, n numeric, na numeric[], ta timestamptz[], f8 float8, j json, ts timestamp);
    INSERT INTO e VALUES
      (1, '0044-03-15 BC', 1.00, '{1.0,NULL,NaN}', '{"2024-01-01 10:00+05",infinity}', '-0', '{"b":1, "a":2}', '0044-03-15 12:00 BC'),
      (2, 'infinity', 'NaN', '[0:1]={1,2}', '{}', 'NaN', 'null', 'infinity'),
      (3, '5874897-12-31', 12345678901234567890.0123456789, NULL, NULL, 4.9e-324, '[1, 2 ,3]', '1999-12-31 23:59:59.999999'),
      (4, '-infinity', 0.000, '{}', NULL, 'Infinity', NULL, NULL),
      (5, '2024-02-29', 7, '{7}', NULL, 1, NULL, NULL)`);
  const args = ['--source', pair.legacyUrl, '--target', pair.targetUrl, '--state', path.join(dir, 's.db'), '--report-dir', dir];
  expect((await cli(['schema', '--apply', ...args])).code).toBe(0);
  expect((await cli(['backfill', ...args])).code).toBe(2); // snapshot warning
  const equal = await cli(['verify', ...args]);
  expect(equal.stderr).toBe('');
  expect(equal.stdout).toContain('all 1 table(s) equal (5 rows)');
  expect(equal.code).toBe(0);

  await sql(pair.targetUrl, `
    UPDATE e SET d = '0044-03-15' WHERE id = 1;          -- AD, not BC
    UPDATE e SET d = NULL WHERE id = 2;                  -- NULL, not infinity
    UPDATE e SET n = 12345678901234567890.01234567890 WHERE id = 3; -- one more trailing zero
    UPDATE e SET d = 'infinity' WHERE id = 4;            -- +infinity, not -infinity
    UPDATE e SET na = '{7.0}' WHERE id = 5;`);
  const v = await cli(['verify', ...args, '--json']);
  expect(v.code).toBe(1);
  const report = JSON.parse(readFileSync(JSON.parse(v.stdout.trim().split('\n').pop()!).file, 'utf8'));
  const diffs = report.tables[0].differences.map((d: { kind: string; key: string[]; columns: string[] }) => `${d.kind} ${d.key.join()} ${d.columns?.join()}`);
  expect(diffs.sort()).toEqual(['different 1 d', 'different 2 d', 'different 3 n', 'different 4 d', 'different 5 na']);
});
