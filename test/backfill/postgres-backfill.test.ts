// PostgreSQL → PostgreSQL: cutover schema carries the same DDL (serial and
// identity sequences, enums, other schemas, CHECK, UNIQUE, foreign keys,
// indexes), backfill copies in key order with composite and text keys, bytea
// and large text, sequences end past the source's, verify is equal.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

it('schema --apply, backfill and verify from a PostgreSQL source', async () => {
  const pair = await databasePair('pg_backfill');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-pgbf-'));
  await sql(pair.legacyUrl, `
    CREATE SCHEMA app;
    CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
    CREATE TABLE app.people (id serial PRIMARY KEY, email text NOT NULL UNIQUE, mood app.mood DEFAULT 'ok', score numeric(8,3) CHECK (score >= 0), photo bytea);
    CREATE TABLE app.tags (person_id int REFERENCES app.people (id) ON DELETE CASCADE, tag text, note text, PRIMARY KEY (person_id, tag));
    CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), body text);
    CREATE INDEX events_at ON events (at);
    INSERT INTO app.people (email, mood, score, photo) SELECT 'p' || g || '@x', (ARRAY['sad','ok','happy'])[1 + g % 3]::app.mood, g / 7.0, CASE WHEN g % 5 = 0 THEN decode(md5(g::text), 'hex') END FROM generate_series(1, 4000) g;
    INSERT INTO app.tags SELECT id, 't' || (id % 17), repeat('n', id % 300) FROM app.people;
    INSERT INTO app.tags SELECT id, 'u' || (id % 13), NULL FROM app.people WHERE id % 2 = 0;
    INSERT INTO events (body) SELECT repeat('e', 5000) FROM generate_series(1, 300);
    SELECT setval('app.people_id_seq', 10000);`);
  const args = ['--source', pair.legacyUrl, '--target', pair.targetUrl, '--state', path.join(dir, 's.db'), '--report-dir', dir];
  const schema = await cli(['schema', '--apply', ...args]);
  expect(schema.stderr).toBe('');
  expect(schema.code).toBe(0);
  // capture first, as in a live migration: batches then lock their rows FOR SHARE
  expect((await cli(['capture', 'install', '--skip-backup', ...args])).code).toBe(0);
  // people and tags (composite key) split into three key ranges each, copied at once
  const bf = await cli(['backfill', '--batch-size', '700', '--workers', '3', '--split-rows', '1000', ...args, '--json']);
  expect(bf.stderr).toBe('');
  expect(bf.code).toBe(0);
  const summary = JSON.parse(bf.stdout.trim().split('\n').pop()!);
  expect(summary.rows).toBe(4000 + 4000 + 2000 + 300);
  expect(summary.postCopy.join()).toMatch(/unique constraint people_email_key.*foreign key tags_person_id_fkey.*index events_at/);
  const v = await cli(['verify', ...args]);
  expect(v.stdout).toContain('all 3 table(s) equal (10300 rows)');
  expect(v.code).toBe(0);
  // the target's sequences hand out ids past the source's own position, not just past max(id)
  const next = await sql(pair.targetUrl, `SELECT nextval('app.people_id_seq') AS n`);
  expect(Number(next.rows[0].n)).toBeGreaterThan(10000);
  const ev = await sql(pair.targetUrl, `INSERT INTO events (body) VALUES ('new') RETURNING id`);
  expect(Number(ev.rows[0].id)).toBeGreaterThan(300);
  const types = await sql(pair.targetUrl, `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'app.people'::regclass AND attname IN ('mood', 'score') ORDER BY attname`);
  expect(types.rows.map((r) => r.t)).toEqual(['app.mood', 'numeric(8,3)']);
});

it('batches follow the key order of the key type, not of its text (10 after 9, not after 1)', async () => {
  const pair = await databasePair('pg_backfill_order');
  await sql(pair.legacyUrl, 'CREATE TABLE n (id int PRIMARY KEY); INSERT INTO n SELECT generate_series(1, 100)');
  const { PgBatchReader } = await import('../../backfill/copy/pg-source.ts');
  const { readSourceSchema } = await import('../../backfill/schema/read-source.ts');
  const t = (await readSourceSchema(pair.legacyUrl, ['n'], false)).tables[0]!;
  const r = new PgBatchReader(pair.legacyUrl);
  await r.connect();
  try {
    expect(await r.upperBound(t, null, 10)).toEqual(['10']);
    expect(await r.upperBound(t, ['10'], 10)).toEqual(['20']);
    expect(await r.upperBound(t, ['95'], 10)).toBeNull();
  } finally {
    await r.end();
  }
});
