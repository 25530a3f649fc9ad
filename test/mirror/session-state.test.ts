// What a session keeps on the source, and what the target must not change,
// with every read that may go to the target sent there (reads 100 %):
// cursors, temporary tables, SET CONSTRAINTS, set_config(), READ ONLY
// transactions, SQL EXECUTE of a prepared write, a procedure that commits,
// the client's privileges on the target, and the application's own errors
// (not the target's fault).
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';
import { lockedAt, mirroredPair } from './mirrored-pair.ts';

const READER = 'cutover_test_reader';
const SCHEMA = `
  CREATE TABLE items (id int PRIMARY KEY, v text);
  INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 5) g;
  CREATE SCHEMA tenant_a;
  CREATE TABLE tenant_a.items (id int PRIMARY KEY, v text);
  INSERT INTO tenant_a.items VALUES (1, 'A only');
  CREATE TABLE secret (id int PRIMARY KEY, v text);
  INSERT INTO secret VALUES (1, 'salary');
  CREATE TABLE c (id int PRIMARY KEY, p int);
  CREATE PROCEDURE batch_ins(n int) LANGUAGE plpgsql AS $$
  BEGIN
    FOR i IN 1..n LOOP
      INSERT INTO c VALUES (100 + i, i);
      COMMIT;
    END LOOP;
  END $$;
  CREATE PROCEDURE batch_at(first int, n int) LANGUAGE plpgsql AS $$
  BEGIN
    RAISE NOTICE 'batch at %', first;
    FOR i IN 0..n - 1 LOOP
      INSERT INTO c VALUES (first + i, i);
      COMMIT;
    END LOOP;
  END $$;
`;
let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('mirror_session_state', SCHEMA);
  for (const url of [pair.legacyUrl, pair.targetUrl]) {
    await sql(url, `DO $$ BEGIN CREATE ROLE ${READER} LOGIN PASSWORD 'reader'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await sql(url, `GRANT SELECT ON items TO ${READER}`);
  }
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 100 });
});
afterAll(async () => {
  await tp?.close();
});

async function client(user = 'postgres', password = 'postgres'): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: tp.url(pair.name, user, password) });
  await c.connect();
  return c;
}

describe('session state while mirroring, reads at 100 %', () => {
  it('cursors, temporary tables and SET CONSTRAINTS work as on a direct connection', async () => {
    const c = await client();
    try {
      await c.query('BEGIN');
      await c.query('SET CONSTRAINTS ALL DEFERRED');
      await c.query('DECLARE cur CURSOR FOR SELECT id FROM items ORDER BY id');
      expect((await c.query('FETCH 2 FROM cur')).rows).toEqual([{ id: 1 }, { id: 2 }]);
      await c.query('MOVE 1 IN cur');
      expect((await c.query('FETCH NEXT FROM cur')).rows).toEqual([{ id: 4 }]);
      await c.query('CLOSE cur');
      await c.query('COMMIT');
      await c.query('DECLARE held CURSOR WITH HOLD FOR SELECT v FROM items WHERE id = 5');
      expect((await c.query('FETCH ALL FROM held')).rows).toEqual([{ v: 'item 5' }]);
      await c.query('CLOSE held');
      await c.query('CREATE TEMP TABLE scratch (id int, v text)');
      await c.query(`INSERT INTO scratch VALUES (1, 'mine')`);
      await c.query('SELECT * INTO TEMP copied FROM scratch');
      // the session's temporary tables are on the source: its reads stay there
      for (let i = 0; i < 5; i++) expect((await c.query('SELECT v FROM copied')).rows).toEqual([{ v: 'mine' }]);
      await c.query('DROP TABLE scratch, copied');
      // a real table is still schema: refused
      await expect(c.query('DROP TABLE items')).rejects.toMatchObject({ code: '0A000' });
      expect(tp.proxy.guard!.stats.readErrors).toBe(0);
    } finally {
      await c.end();
    }
  });

  it('DDL hidden in a DO block or a function is refused on the source for proxy sessions, unless DDL is allowed', async () => {
    const c = await client();
    try {
      await expect(c.query(`DO $$ BEGIN EXECUTE 'ALTER TABLE items ADD COLUMN sneaky int'; END $$`)).rejects.toMatchObject({ code: '0A000', message: 'schema changes are refused while a migration is mirroring writes' });
      // the session's own temporary objects are no schema change
      await c.query(`DO $$ BEGIN EXECUTE 'CREATE TEMP TABLE made_in_do (i int)'; END $$`);
      await c.query('INSERT INTO made_in_do VALUES (1)');
    } finally {
      await c.end();
    }
    expect((await sql(pair.legacyUrl, `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'sneaky'`)).rows[0].n).toBe(0);
    const allowing = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, reads: 0, allowDdl: true });
    try {
      const a = new pg.Client({ connectionString: allowing.url(pair.name) });
      await a.connect();
      await a.query(`DO $$ BEGIN EXECUTE 'CREATE INDEX items_v ON items (v)'; END $$`);
      await a.query(`DROP INDEX items_v`);
      await a.end();
    } finally {
      await allowing.close();
    }
  });

  it('a connection opened to the target late gets the last value of each setting, not every SET the session ran', async () => {
    const stat = async () => Number((await sql(pair.targetUrl, 'SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()')).rows[0].xact_commit);
    tp.live.update({ readPercent: 0 });
    const c = await client();
    try {
      // as some frameworks do before each query; one of them refused by the source (the earlier value stays)
      for (let i = 1; i <= 3000; i++) await c.query(`SET statement_timeout = ${10_000 + i}`);
      await c.query('SET search_path = tenant_a, public');
      await expect(c.query(`SET statement_timeout = 'soon'`)).rejects.toMatchObject({ code: '22023' });
      const before = await stat();
      tp.live.update({ readPercent: 100 });
      // the first routed read opens the session's target connection, which replays the session's state first
      const r = await c.query(`SELECT v, current_setting('statement_timeout') AS t FROM items`);
      expect(r.rows).toEqual([{ v: 'A only', t: '13s' }]);
      const target = await c.query(`SELECT current_setting('search_path') AS p, current_setting('statement_timeout') AS t`);
      expect(target.rows).toEqual([{ p: 'tenant_a, public', t: '13s' }]);
      // the target's server process ends, and reports its transactions as it does: a handful, not 3000 replayed SETs
      const ended = await sql(pair.targetUrl, `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%current_setting(%' AND pid <> pg_backend_pid()`);
      expect(ended.rows).toEqual([{ ok: true }]);
      await new Promise((r) => setTimeout(r, 500));
      expect((await stat()) - before).toBeLessThan(100);
    } finally {
      tp.live.update({ readPercent: 100 });
      await c.end().catch(() => undefined);
    }
  });

  it('set_config() keeps the session on the source, where the setting is', async () => {
    const c = await client();
    try {
      await c.query(`SELECT set_config('search_path', 'tenant_a', false), set_config('app.tenant', 't1', false)`);
      for (let i = 0; i < 5; i++) {
        expect((await c.query('SELECT v FROM items')).rows).toEqual([{ v: 'A only' }]);
        expect((await c.query(`SELECT current_setting('app.tenant', true) AS t`)).rows).toEqual([{ t: 't1' }]);
      }
    } finally {
      await c.end();
    }
  });

  it('a READ ONLY transaction commits, however it was made read-only', async () => {
    const c = await client();
    try {
      for (const begin of ['BEGIN READ ONLY', 'START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE']) {
        await c.query(begin);
        await c.query('SELECT count(*) FROM items');
        expect((await c.query('COMMIT')).command).toBe('COMMIT');
      }
      await c.query('BEGIN');
      await c.query('SET TRANSACTION READ ONLY');
      await c.query('SELECT 1');
      expect((await c.query('COMMIT')).command).toBe('COMMIT');
      // read-only by a session default: the COMMIT succeeds (its answer may be ROLLBACK: nothing was written)
      await c.query('SET default_transaction_read_only = on');
      await c.query('BEGIN');
      await c.query('SELECT 1');
      await c.query('COMMIT');
      // a volatile function outside a transaction (classified a write: wrapped, drained) writes nothing either
      expect((await c.query('SELECT setseed(0.5) AS s, 1 AS one')).rows).toEqual([{ s: '', one: 1 }]);
      await expect(c.query(`INSERT INTO items (id, v) VALUES (424242, 'no')`)).rejects.toMatchObject({ code: '25006' });
      await c.query('SET default_transaction_read_only = off');
      expect((await c.query('SELECT 2 AS two')).rows[0].two).toBe(2);
    } finally {
      await c.end();
    }
  });

  it('SQL PREPARE and protocol statements share one namespace, as on PostgreSQL', async () => {
    const c = await client();
    try {
      const dn = { name: 'dn', text: 'SELECT 1 AS a' };
      expect((await c.query(dn)).rows).toEqual([{ a: 1 }]);
      await expect(c.query('PREPARE dn AS SELECT 2 AS b')).rejects.toMatchObject({ code: '42P05' });
      for (let i = 0; i < 5; i++) expect((await c.query(dn)).rows).toEqual([{ a: 1 }]);
      await c.query('PREPARE s1 AS SELECT 3 AS c');
      await expect(c.query({ name: 's1', text: 'SELECT 4 AS d' })).rejects.toMatchObject({ code: '42P05' });
      expect((await c.query('EXECUTE s1')).rows).toEqual([{ c: 3 }]);
    } finally {
      await c.end();
    }
  });

  it('SQL EXECUTE of a prepared INSERT is on the new database when acknowledged', async () => {
    const c = await client();
    try {
      await c.query('PREPARE ins (int) AS INSERT INTO c VALUES ($1, 0)');
      for (let i = 1; i <= 5; i++) {
        await c.query(`EXECUTE ins (${i})`);
        expect((await sql(pair.targetUrl, 'SELECT count(*)::int AS n FROM c WHERE id = $1', [i])).rows[0].n).toBe(1);
      }
    } finally {
      await c.end();
    }
  });

  it('CALL of a procedure that commits inside runs, and its rows are on the new database when acknowledged', async () => {
    const c = await client();
    try {
      expect((await c.query('CALL batch_ins(3)')).command).toBe('CALL');
      expect((await sql(pair.targetUrl, 'SELECT count(*)::int AS n FROM c WHERE id > 100')).rows[0].n).toBe(3);
      expect((await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM c WHERE id > 100')).rows[0].n).toBe(3);
      // a failing one fails as it would directly
      await expect(c.query('CALL batch_ins(3)')).rejects.toMatchObject({ code: '23505' });
      expect(tp.live.get().tripped).toBeNull();
    } finally {
      await c.end();
    }
  });

  it('CALL with parameters (node-postgres, postgres.js named statements) and DO blocks that commit inside run as they do directly', async () => {
    const c = await client();
    const pjs = postgres(tp.url(pair.name), { max: 1, prepare: true, onnotice: () => undefined });
    const notices: string[] = [];
    c.on('notice', (n) => notices.push(n.message ?? ''));
    const count = async (url: string) => (await sql(url, 'SELECT count(*)::int AS n FROM c WHERE id BETWEEN 200 AND 299')).rows[0].n as number;
    try {
      // the extended protocol: a failed first run inside the proxy's transaction must not show, so one notice only
      expect((await c.query('CALL batch_at($1, $2)', [200, 2])).command).toBe('CALL');
      expect(notices).toEqual(['batch at 200']);
      await pjs`CALL batch_at(${210}, ${2})`;
      await pjs`CALL batch_at(${220}, ${2})`;
      await c.query(`DO $$ BEGIN INSERT INTO c VALUES (230, 0); COMMIT; INSERT INTO c VALUES (231, 0); END $$`);
      // each acknowledged only once on the new database too
      expect(await count(pair.targetUrl)).toBe(8);
      expect(await count(pair.legacyUrl)).toBe(8);
      // failing ones fail as they would directly, the rows they committed before the failure kept
      await expect(c.query('CALL batch_at($1, $2)', [240, 1])).resolves.toMatchObject({ command: 'CALL' });
      await expect(c.query('CALL batch_at($1, $2)', [239, 2])).rejects.toMatchObject({ code: '23505' });
      await expect(c.query(`DO $$ BEGIN INSERT INTO c VALUES (250, 0); COMMIT; INSERT INTO c VALUES (250, 0); END $$`)).rejects.toMatchObject({ code: '23505' });
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await expect.poll(() => count(pair.targetUrl)).toBe(11);
      expect(await count(pair.legacyUrl)).toBe(11);
      expect(tp.live.get().tripped).toBeNull();
    } finally {
      await c.end();
      await pjs.end();
    }
  });

  it("routed reads run as the client's role on the new database: its privileges apply there too", async () => {
    const c = await client(READER, 'reader');
    try {
      const routedBefore = tp.proxy.guard!.stats.reads;
      for (let i = 0; i < 10; i++) await expect(c.query('SELECT v FROM secret')).rejects.toMatchObject({ code: '42501' });
      expect((await c.query('SELECT current_user AS u')).rows[0].u).toBe(READER);
      // the new database's session logged in as the target URL's role: who logged in is the source's to say
      expect((await c.query('SELECT session_user AS u, current_user AS c')).rows[0]).toEqual({ u: READER, c: READER });
      expect((await c.query('SELECT "session_user"() AS u WHERE $1::int > 0', [1])).rows[0].u).toBe(READER);
      expect((await c.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(5);
      // and they did go to the new database
      expect(tp.proxy.guard!.stats.reads).toBeGreaterThan(routedBefore);
    } finally {
      await c.end();
    }
  });

  it('SQL EXECUTE and DEALLOCATE of a statement the client prepared by protocol (psycopg 3 evicts so) work as directly', async () => {
    const c = await client();
    try {
      // a read: prepared and answered on the new database
      expect((await c.query({ name: 'by_id', text: 'SELECT id FROM items WHERE id = $1', values: [2] })).rows).toEqual([{ id: 2 }]);
      expect((await c.query('EXECUTE by_id(3)')).rows).toEqual([{ id: 3 }]);
      expect((await c.query('DEALLOCATE by_id')).command).toBe('DEALLOCATE');
      await expect(c.query('EXECUTE by_id(3)')).rejects.toMatchObject({ code: '26000' });
      // the name is free again everywhere: a new Parse of it, as the driver sends once it has evicted
      expect((await c.query('PREPARE by_id AS SELECT id FROM items WHERE id = 4')).command).toBe('PREPARE');
      expect((await c.query('EXECUTE by_id')).rows).toEqual([{ id: 4 }]);
      expect((await c.query('DEALLOCATE by_id')).command).toBe('DEALLOCATE');
    } finally {
      await c.end();
    }
  });

  it("the application's own mistakes are no fault of the new database", async () => {
    const c = await client();
    try {
      const before = tp.proxy.guard!.stats.readErrors;
      for (let i = 0; i < 10; i++) await expect(c.query('SELECT nocolumn FROM items')).rejects.toMatchObject({ code: '42703' });
      await expect(c.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' });
      expect(tp.proxy.guard!.stats.readErrors).toBe(before);
      expect(tp.live.get().tripped).toBeNull();
      // a timeout is the session's own: answered once, not run again on the source
      await c.query(`SET statement_timeout = '300ms'`);
      const release = await lockedAt(pair.targetUrl, 'items');
      try {
        const started = Date.now();
        await expect(c.query('SELECT count(*) FROM items')).rejects.toMatchObject({ code: '57014' });
        expect(Date.now() - started).toBeLessThan(1_500);
      } finally {
        await release();
      }
    } finally {
      await c.end();
    }
  });
});
