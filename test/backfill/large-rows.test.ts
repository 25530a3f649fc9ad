// Large values: a batch is cut by bytes as well as rows, and every byte of a
// 1 MB BLOB and a 1 MB text survives the copy and the verify.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';
import { databasePair, sql } from '../harness/databases.ts';

it('copies and verifies 1 MB BLOBs and texts', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-large-'));
  const file = path.join(dir, 'big.db');
  const db = new Database(file);
  db.exec('CREATE TABLE docs (id TEXT PRIMARY KEY, body BLOB NOT NULL, note TEXT)');
  const ins = db.prepare('INSERT INTO docs VALUES (?, ?, ?)');
  const bodies: Buffer[] = [];
  db.transaction(() => {
    for (let i = 0; i < 30; i++) {
      const body = randomBytes(1 << 20);
      bodies.push(body);
      ins.run(`doc-${String(i).padStart(3, '0')}`, body, `"quoted", comma, newline\n`.repeat(40_000));
    }
  })();
  db.close();
  const pair = await databasePair('backfill_large');
  const common = ['--source', `sqlite://${file}`, '--target', pair.targetUrl, '--state', path.join(dir, 'state.db'), '--report-dir', dir];
  expect((await cli(['schema', '--apply', ...common])).code).toBe(0);
  const r = await cli(['backfill', ...common, '--json']);
  expect(r.code).toBe(2); // a snapshot: no capture installed
  expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toMatchObject({ event: 'summary', rows: 30 });
  const row = (await sql(pair.targetUrl, `SELECT body, length(note) AS n FROM docs WHERE id = 'doc-017'`)).rows[0];
  expect(Buffer.compare(row.body, bodies[17]!)).toBe(0);
  expect(row.n).toBe(`"quoted", comma, newline\n`.length * 40_000);
  const v = await cli(['verify', ...common]);
  expect(v.stdout).toContain('all 1 table(s) equal (30 rows)');
  expect(v.code).toBe(0);
});
