// `cutover schema` prints the database's own DDL, which operators pipe into a
// file and apply: it is not masked as other output is (23ba336), so a column
// default quoting a URL with a user and password, or a conninfo, stays intact.
import { beforeAll, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';

let pair: DbPair;

beforeAll(async () => {
  pair = await databasePair('schema_verbatim');
  await sql(pair.legacyUrl, "CREATE TABLE hooks (id int PRIMARY KEY, url text DEFAULT 'https://bot:abc@hooks.example/x', conn text DEFAULT 'host=h password=zz')");
});

it("schema's DDL keeps a default quoting a URL's password or a conninfo, as text and in --json", async () => {
  const text = await cli(['schema', '--source', pair.legacyUrl]);
  expect(text.code, text.stderr).toBe(0);
  expect(text.stdout).toContain("DEFAULT 'https://bot:abc@hooks.example/x'");
  expect(text.stdout).toContain("DEFAULT 'host=h password=zz'");
  const json = await cli(['schema', '--json', '--source', pair.legacyUrl]);
  expect(json.stdout).toContain('https://bot:abc@hooks.example/x');
});
