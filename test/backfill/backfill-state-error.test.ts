// A backfill whose --state cannot be opened printed the snapshot warning
// ("change capture is not installed …") before its reason: two lines on
// stderr for one refusal. The refusal is now the only line.
import { beforeAll, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';

let pair: DbPair;

beforeAll(async () => {
  pair = await databasePair('backfill_state_error');
  for (const url of [pair.legacyUrl, pair.targetUrl]) await sql(url, 'CREATE TABLE t (id int PRIMARY KEY, v text)');
  await sql(pair.legacyUrl, "INSERT INTO t SELECT g, 'v' FROM generate_series(1, 10) g");
});

it('backfill with a --state it cannot open: the one line naming it, exit 1, nothing copied', async () => {
  // sysfs takes no new files, for root too
  const r = await cli(['backfill', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--state', '/sys/state.db']);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^cutover: --state \/sys\/state\.db: cannot open the state file: [^\n]+\n$/);
  expect((await sql(pair.targetUrl, 'SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 0 }]);
});
