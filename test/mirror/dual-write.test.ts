import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import postgres from 'postgres';
import { sql, type DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import { mirroredPair } from './mirrored-pair.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';

const SCHEMA = `
  CREATE TABLE accounts (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, balance float8 NOT NULL DEFAULT random(), created timestamptz NOT NULL DEFAULT now(), blob bytea);
  CREATE TABLE notes (id serial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, body text, n numeric(20,6));
`;
const TABLES = ['public.accounts', 'public.notes'];
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_dual_write', SCHEMA);
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
});
afterAll(async () => {
  await tp?.close();
});

describe('dual write through the proxy', () => {
  it('mirrors autocommit writes, transactions, savepoints and cascades, and leaves nothing for rollbacks', async () => {
    expect(tp.live.get().mirroring).toBe(true);
    const before = tp.proxy.stats();
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await c.query('INSERT INTO accounts (email, blob) VALUES ($1, $2) RETURNING id', [`u${i}@x`, Buffer.from([i, 0, 255])]);
      ids.push(r.rows[0].id);
    }
    await c.query("INSERT INTO notes (account_id, body, n) SELECT id, 'hello ' || id, id * 1.5 FROM accounts");
    await c.query('BEGIN');
    await c.query('UPDATE accounts SET balance = balance + 1 WHERE id = $1', [ids[0]]);
    await c.query('SAVEPOINT s1');
    await c.query('DELETE FROM accounts WHERE id = $1', [ids[1]]);
    await c.query('ROLLBACK TO SAVEPOINT s1');
    await c.query('DELETE FROM accounts WHERE id = $1', [ids[2]]); // cascades to notes
    await c.query('COMMIT');
    await c.query('BEGIN');
    await c.query("INSERT INTO accounts (email) VALUES ('rolled@back')");
    await c.query('ROLLBACK');
    await expect(c.query("INSERT INTO accounts (email) VALUES ('u3@x')")).rejects.toMatchObject({ code: '23505' });
    // multi-statement simple query: one implicit transaction
    await c.query(`UPDATE notes SET body = 'multi' WHERE account_id = ${ids[3]}; INSERT INTO accounts (email) VALUES ('multi@x')`);
    await c.end();
    // the message relay counts requests and bytes as the byte relay does (status showed 0 while mirroring)
    const after = tp.proxy.stats();
    expect(after.requests - before.requests).toBeGreaterThanOrEqual(31);
    expect(after.bytesOut - before.bytesOut).toBeGreaterThan(after.requests - before.requests);

    const pj = postgres(tp.url(pair.name), { max: 3, prepare: true });
    await Promise.all(Array.from({ length: 30 }, (_, i) => pj`INSERT INTO accounts (email) VALUES (${'pj' + i + '@x'})`));
    await pj.begin(async (tx) => {
      await tx`UPDATE accounts SET balance = -1 WHERE email LIKE 'pj1%'`;
      await tx`DELETE FROM accounts WHERE email = 'pj2@x'`;
    });
    await pj.end();

    const diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, TABLES);
    if (!diffs.every((d) => d.equal)) {
      const a = await sql(pair.legacyUrl, 'SELECT id, email, balance FROM accounts ORDER BY id');
      const b = await sql(pair.targetUrl, 'SELECT id, email, balance FROM accounts ORDER BY id');
      console.log(tp.live.get().tripped, JSON.stringify(tp.proxy.guard?.stats), JSON.stringify((await sql(pair.legacyUrl, 'SELECT * FROM cutover.changes')).rows));
      console.log(JSON.stringify(a.rows.filter((r) => !b.rows.some((x) => JSON.stringify(x) === JSON.stringify(r)))), JSON.stringify(b.rows.filter((r) => !a.rows.some((x) => JSON.stringify(x) === JSON.stringify(r)))));
    }
    expect(diffs).toEqual(TABLES.map((t) => expect.objectContaining({ table: t, equal: true })));
    const left = await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM cutover.changes');
    expect(left.rows[0].n).toBe(0);
  });

  it('drains out-of-band writes made directly on the source', async () => {
    await sql(pair.legacyUrl, "INSERT INTO accounts (email) VALUES ('cron@x'); UPDATE accounts SET balance = 42 WHERE email = 'u5@x'; DELETE FROM accounts WHERE email = 'u6@x'");
    for (let i = 0; i < 50; i++) {
      const diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, TABLES);
      if (diffs.every((d) => d.equal)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await compareDatabases(pair.legacyUrl, pair.targetUrl, TABLES)).every((d) => d.equal)).toBe(true);
  });

  it('refuses DDL while mirroring with 0A000, and the session goes on', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    await c.connect();
    await expect(c.query('ALTER TABLE accounts ADD COLUMN nickname text')).rejects.toMatchObject({ code: '0A000', message: expect.stringContaining('schema changes are refused') });
    await expect(c.query({ text: 'CREATE TABLE sneaky (id int primary key)', values: [] })).rejects.toMatchObject({ code: '0A000' });
    expect((await c.query('SELECT count(*)::int AS n FROM accounts')).rows[0].n).toBeGreaterThan(0);
    await c.end();
    const cols = await sql(pair.legacyUrl, "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'nickname'");
    expect(cols.rows[0].n).toBe(0);
  });

  it('DDL refused inside a transaction block aborts the block, as an error in PostgreSQL does', async () => {
    for (const extended of [false, true]) {
      const c = new pg.Client({ connectionString: tp.url(pair.name) });
      await c.connect();
      try {
        const email = `ddl-in-block-${extended}@x`;
        await c.query('BEGIN');
        await c.query('INSERT INTO accounts (email) VALUES ($1)', [email]);
        await expect(c.query(extended ? { text: 'ALTER TABLE accounts ADD COLUMN nick text', values: [] } : 'ALTER TABLE accounts ADD COLUMN nick text'))
          .rejects.toMatchObject({ code: '0A000', message: expect.stringContaining('schema changes are refused') });
        // the block has failed: statements are refused until it ends, and COMMIT rolls it back
        await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
        const end = await c.query('COMMIT');
        expect(end.command).toBe('ROLLBACK');
        for (const url of [pair.legacyUrl, pair.targetUrl]) expect((await sql(url, 'SELECT count(*)::int AS n FROM accounts WHERE email = $1', [email])).rows[0].n).toBe(0);
        expect((await c.query('SELECT 2 AS two')).rows[0].two).toBe(2);
      } finally {
        await c.end();
      }
    }
  });

  it('shutdown waits for an open mirrored transaction, then ends the session with 57P01', async () => {
    const c = new pg.Client({ connectionString: tp.url(pair.name) });
    const errors: string[] = [];
    c.on('error', (e) => errors.push((e as { code?: string }).code ?? e.message));
    const ended = new Promise<void>((r) => c.on('end', () => r()));
    await c.connect();
    await c.query('BEGIN');
    await c.query("INSERT INTO accounts (email) VALUES ('draining@x')");
    const closing = tp.proxy.close(10_000);
    await new Promise((r) => setTimeout(r, 200));
    await c.query("INSERT INTO accounts (email) VALUES ('draining2@x')");
    await c.query('COMMIT');
    await closing;
    await ended;
    expect(errors).toContain('57P01');
    const diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, TABLES);
    expect(diffs.every((d) => d.equal)).toBe(true);
    const n = await sql(pair.targetUrl, "SELECT count(*)::int AS n FROM accounts WHERE email LIKE 'draining%'");
    expect(n.rows[0].n).toBe(2);
    await c.end().catch(() => undefined);
  });
});
