// When the mirror apply fails, the proxy records the keys dirty inside the
// client's transaction, so they commit with it. When that record failed too
// (here a trigger refuses it; a serialization failure or a full disk would),
// the transaction was aborted by it and the client's COMMIT came back as a
// bare ROLLBACK tag, which drivers report as success: node-postgres resolved
// the COMMIT, and the write was on neither side. The client now gets an error.
// The new database refuses the row with a CHECK of its own, so the apply fails
// every time.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, proxyWithoutDrainer } from './mirrored-pair.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { mirrorMetrics } from '../../proxy/mirror/metrics.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('dirty_record_failure', 'CREATE TABLE kv (id int PRIMARY KEY, v int NOT NULL); INSERT INTO kv SELECT g, 0 FROM generate_series(1, 5) g;');
  await sql(pair.targetUrl, 'ALTER TABLE kv ADD CONSTRAINT small CHECK (v < 100)');
  await sql(pair.legacyUrl, `
    CREATE FUNCTION refuse_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('test.refuse_dirty', true) = 'on' THEN RAISE EXCEPTION 'dirty record refused (test)'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER refuse_dirty BEFORE INSERT ON cutover.changes FOR EACH ROW WHEN (NEW.op = 'R') EXECUTE FUNCTION refuse_dirty();`);
  tp = await proxyWithoutDrainer(pair);
});
afterAll(async () => {
  await tp?.close();
});

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: tp.url(pair.name) });
  await c.connect();
  return c;
}

async function expectUsableAndUnchanged(c: pg.Client, id: number): Promise<void> {
  expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  expect((await sql(pair.legacyUrl, 'SELECT v FROM kv WHERE id = $1', [id])).rows).toEqual([{ v: 0 }]);
}

it.each(['simple', 'extended'])('a COMMIT whose transaction the dirty record aborted fails with 40000 (%s protocol)', async (protocol) => {
  const id = protocol === 'simple' ? 1 : 2;
  const c = await client();
  try {
    await c.query('BEGIN');
    await c.query(`SET LOCAL test.refuse_dirty = 'on'`);
    await c.query(`UPDATE kv SET v = 500 WHERE id = ${id}`);
    const commit = protocol === 'simple' ? c.query('COMMIT') : c.query({ text: 'COMMIT', name: `commit_${id}` });
    await expect(commit).rejects.toMatchObject({ code: '40000' });
    await expectUsableAndUnchanged(c, id);
  } finally {
    await c.end();
  }
});

it('rows drained ahead: a COMMIT whose transaction the dirty record aborted fails with 40000', async () => {
  const update = 'UPDATE kv SET v = $1 WHERE id = 3';
  const c = await client();
  try {
    // committed once (and applied), the shape is taken for its transaction's last write from then on
    await c.query('BEGIN');
    await c.query(update, [0]);
    await c.query('COMMIT');
    const ahead = (await mirrorMetrics.drainAhead.get()).values[0]?.value ?? 0;
    await c.query('BEGIN');
    await c.query(`SET LOCAL test.refuse_dirty = 'on'`);
    await c.query(update, [500]);
    await expect(c.query('COMMIT')).rejects.toMatchObject({ code: '40000' });
    expect((await mirrorMetrics.drainAhead.get()).values[0]?.value).toBe(ahead + 1);
    await expectUsableAndUnchanged(c, 3);
  } finally {
    await c.end();
  }
});
