// A snapshot of an SQLite table whose key is not its rowid is read in rowid
// order, and its checkpoints are rowids with the key of the row there. A
// resumed load removes, by their keys read from the source, the rows an
// interrupted attempt committed past its checkpoint. It first checks that
// each saved position still holds its row: when the source changed under it
// (the checkpointed row deleted here; a rebuilt file renumbers rows the same
// way) it refuses with a one-line reason and writes nothing, and a fresh run
// after emptying the table is equal.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { generateDataset } from '../../bench/gen-sqlite-dataset.ts';
import { decodeKey } from '../../backfill/copy/keys.ts';
import { CLI, cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

/** Starts a slowed backfill and kills it (SIGKILL) once `rows` sessions rows are in. */
async function killedHalfway(common: string[], rows: number): Promise<void> {
  const child = spawn('node', [CLI, 'backfill', ...common, '--batch-size', '1000', '--workers', '1', '--max-rate', '15000', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise((r) => child.on('exit', r));
  let copied = 0;
  for (let i = 0; i < 300 && copied < rows; i++) {
    await new Promise((r) => setTimeout(r, 100));
    copied = out.split('\n').filter((l) => l.includes('"progress"')).map((l) => JSON.parse(l)).filter((p) => p.table === 'sessions').pop()?.rows ?? 0;
  }
  expect(copied).toBeGreaterThanOrEqual(rows);
  child.kill('SIGKILL');
  await exited;
}

/** A reference dataset (seed `seed`) whose backfill was killed once 10,000 sessions rows were in. */
async function interruptedLoad(name: string, seed: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-rowid-'));
  const file = path.join(dir, 'ds.db');
  generateDataset(file, 20_000, 40_000, seed);
  const pair = await databasePair(name);
  const state = path.join(dir, 'state.db');
  const common = ['--source', `sqlite://${file}`, '--target', pair.targetUrl, '--state', state, '--report-dir', dir];
  expect((await cli(['schema', '--apply', ...common])).code).toBe(0);
  await killedHalfway(common, 10_000);
  return { file, pair, state, common };
}

/** The sessions checkpoint: [rowid, key]. */
function checkpointOf(state: string): [bigint, string] {
  const st = new Database(state, { readonly: true });
  try {
    expect(st.prepare(`SELECT tbl FROM backfill_checkpoints WHERE tbl LIKE 'sessions%' ORDER BY tbl`).pluck().all()).toEqual(['sessions', 'sessions#rowid']);
    const [rowid, key] = decodeKey(st.prepare(`SELECT last_key FROM backfill_checkpoints WHERE tbl = 'sessions'`).pluck().get() as string);
    return [rowid as bigint, key as string];
  } finally {
    st.close();
  }
}

it('on resume, removes what the killed run committed past its checkpoint (found by key), then completes equal', async () => {
  const { file, pair, state, common } = await interruptedLoad('backfill_rowid_trim', 6);
  const [rowid] = checkpointOf(state);
  // as if the killed run had committed two more batches without saving their checkpoint
  const src = new Database(file, { readonly: true });
  const past = src.prepare('SELECT id, user_id, data, expires_at FROM sessions WHERE rowid > ? ORDER BY rowid LIMIT 2000').all(rowid);
  src.close();
  expect(past).toHaveLength(2000);
  await sql(pair.targetUrl, 'INSERT INTO sessions SELECT * FROM json_populate_recordset(null::sessions, $1)', [JSON.stringify(past)]);

  const resumed = await cli(['backfill', '--resume', ...common, '--json']);
  expect(resumed.code, resumed.stderr).toBe(2);
  const v = await cli(['verify', ...common]);
  expect(v.stdout).toContain('all 2 table(s) equal (60000 rows)');
  expect(v.code).toBe(0);
}, 180_000);

it('refuses to resume a rowid-order load whose saved position no longer holds its row, then loads equal from scratch', async () => {
  const { file, pair, state, common } = await interruptedLoad('backfill_rowid_guard', 5);
  // the position is [rowid, key]: the key of the row at that rowid on the source
  const [rowid, key] = checkpointOf(state);
  const src = new Database(file);
  expect(src.prepare('SELECT id FROM sessions WHERE rowid = ?').pluck().get(rowid)).toBe(key);
  src.prepare('DELETE FROM sessions WHERE rowid = ?').run(rowid);
  src.close();

  const before = (await sql(pair.targetUrl, 'SELECT count(*)::int AS n FROM sessions')).rows[0].n as number;
  const refused = await cli(['backfill', '--resume', ...common, '--json']);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(new RegExp(`row id ${String(rowid)} no longer holds the row it held.*TRUNCATE "public"."sessions"`));
  expect(refused.stderr.trim().split('\n').filter((l) => !l.startsWith('warning:'))).toHaveLength(1);
  expect((await sql(pair.targetUrl, 'SELECT count(*)::int AS n FROM sessions')).rows[0].n).toBe(before);

  // as the message says: empty the table, run again without --resume
  await sql(pair.targetUrl, 'TRUNCATE sessions');
  const fresh = await cli(['backfill', ...common, '--json']);
  expect(fresh.code, fresh.stderr).toBe(2); // a snapshot: equal, with the no-capture warning
  const v = await cli(['verify', ...common]);
  expect(v.stdout).toContain('all 2 table(s) equal (59999 rows)');
  expect(v.code).toBe(0);
}, 180_000);
