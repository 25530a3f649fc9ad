// postgres.js (pipelining, named prepared statements, typed parameters) against the proxy serving an SQLite file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { startSqliteProxy, type SqliteProxy } from './sqlite-harness.ts';

let sp: SqliteProxy;
beforeAll(async () => {
  sp = await startSqliteProxy();
});
afterAll(async () => {
  await sp?.close();
});

describe('postgres.js → proxy → SQLite', () => {
  it('pipelines prepared statements, runs transactions and savepoints, round-trips types', async () => {
    const sql = postgres(sp.url(), { max: 3, prepare: true, onnotice: () => undefined });
    try {
      await sql`CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, qty int NOT NULL DEFAULT 0,
        big bigint, ratio double precision, ok boolean, body bytea, at timestamptz DEFAULT now())`;
      const inserted = await Promise.all(Array.from({ length: 100 }, (_, i) => sql`INSERT INTO items (name, qty) VALUES (${'n' + i}, ${i}) RETURNING id`));
      expect(inserted).toHaveLength(100);
      const total = (await sql`SELECT sum(qty)::int AS total FROM items`)[0]!.total;
      expect(total).toBe((99 * 100) / 2);
      const reads = await Promise.all(Array.from({ length: 50 }, (_, i) => sql`SELECT name FROM items WHERE qty = ${i}`));
      expect(reads.map((r) => r[0]!.name)).toEqual(Array.from({ length: 50 }, (_, i) => 'n' + i));

      await expect(sql.begin(async (tx) => {
        await tx`UPDATE items SET qty = qty + 1000 WHERE qty < 10`;
        throw new Error('abort on purpose');
      })).rejects.toThrow('abort on purpose');
      expect((await sql`SELECT count(*)::int AS n FROM items WHERE qty >= 1000`)[0]!.n).toBe(0);
      await sql.begin(async (tx) => {
        await tx`UPDATE items SET qty = qty + 1000 WHERE qty < 10`;
        await tx.savepoint(async (s) => {
          await s`DELETE FROM items`;
          throw new Error('roll back the savepoint');
        }).catch(() => undefined);
      });
      expect((await sql`SELECT count(*)::int AS n FROM items WHERE qty >= 1000`)[0]!.n).toBe(10);
      expect((await sql`SELECT count(*)::int AS n FROM items`)[0]!.n).toBe(100);

      const blob = Buffer.from([0, 9, 255]);
      const [row] = await sql`INSERT INTO items (name, big, ratio, ok, body) VALUES (${'типы ✓'}, ${'9007199254740993'}, ${0.1 + 0.2}, ${true}, ${blob})
        RETURNING name, big, ratio, ok, body, at`;
      expect(row!.name).toBe('типы ✓');
      expect(String(row!.big)).toBe('9007199254740993');
      expect(row!.ratio).toBe(0.30000000000000004);
      expect(row!.ok).toBe(true);
      expect(Buffer.compare(row!.body, blob)).toBe(0);
      expect(row!.at).toBeInstanceOf(Date);
      const [empty] = await sql`INSERT INTO items (name, body, ratio) VALUES ('empty', ${Buffer.alloc(0)}, ${1234567.891}) RETURNING body, ratio`;
      expect(Buffer.compare(empty!.body, Buffer.alloc(0))).toBe(0);
      expect(empty!.ratio).toBe(1234567.891);
      expect((await sql`SELECT count(*)::int AS n FROM items WHERE ok = ${true}`)[0]!.n).toBe(1);

      await expect(sql`SELECT * FROM missing_table`).rejects.toMatchObject({ code: '42P01' });
      await expect(sql`INSERT INTO items (name) VALUES ('n1')`).rejects.toMatchObject({ code: '23505' });
      await expect(sql`SELECT * FROM items WHERE name ~ 'x'`).rejects.toMatchObject({ code: '0A000' });
      expect((await sql`SELECT ${'still'} AS s`)[0]!.s).toBe('still');
    } finally {
      await sql.end({ timeout: 2 });
    }
  });

  it('a transaction whose statement failed rolls back through the extended protocol; the write lock is free for others', async () => {
    const sql = postgres(sp.url(), { max: 1, prepare: true, onnotice: () => undefined });
    const other = postgres(sp.url(), { max: 1, prepare: true, onnotice: () => undefined });
    try {
      await sql`CREATE TABLE ph (id int PRIMARY KEY)`;
      await sql`INSERT INTO ph VALUES (1)`;
      // postgres.js sends its ROLLBACK as Parse/Bind/Execute: it was refused (25P02), the session hung holding the lock
      await expect(sql.begin(async (tx) => {
        await tx`INSERT INTO ph VALUES (2)`;
        await tx`INSERT INTO ph VALUES (1)`;
      })).rejects.toMatchObject({ code: '23505' });
      await sql.begin(async (tx) => {
        await tx`INSERT INTO ph VALUES (3)`;
        await tx.savepoint(async (s) => {
          await s`INSERT INTO ph VALUES (1)`;
        }).catch(() => undefined);
        await tx`INSERT INTO ph VALUES (4)`;
      });
      expect((await sql`SELECT id FROM ph ORDER BY id`).map((r) => r.id)).toEqual(['1', '3', '4']);
      // another session writes at once: no lock was left behind
      await other`INSERT INTO ph VALUES (5)`;
      expect((await other`SELECT count(*)::int AS n FROM ph`)[0]!.n).toBe(4);
    } finally {
      await Promise.all([sql.end(), other.end()]);
    }
  }, 30_000);

  // found by running postgres.js's own tests through the proxy
  it('answers as PostgreSQL where the postgres.js suite looked: cursor batches, typed parameters, PREPARE TRANSACTION', async () => {
    const sql = postgres(sp.url(), { max: 1, prepare: true, onnotice: () => undefined });
    try {
      await sql`CREATE TABLE cur (id int PRIMARY KEY)`;
      await sql`INSERT INTO cur VALUES (1), (2), (3), (4), (5)`;
      // a fetch that fills its row limit suspends the portal even when no row is left: the last batch's
      // callback is waited for (with a completion instead, the cursor ended while it still ran)
      const order: string[] = [];
      await sql`SELECT id FROM cur ORDER BY id LIMIT 2`.cursor(async ([r]) => {
        order.push(`${r!.id}a`);
        await new Promise((res) => setTimeout(res, 50));
        order.push(`${r!.id}b`);
      });
      expect(order).toEqual(['1a', '1b', '2a', '2b']);
      const batches: number[] = [];
      await sql`SELECT id FROM cur ORDER BY id`.cursor(5, async (rows) => void batches.push(rows.length));
      await sql`SELECT id FROM cur ORDER BY id`.cursor(2, async (rows) => void batches.push(rows.length));
      expect(batches).toEqual([5, 2, 2, 1]);

      // generate_series in the select list is typed before it runs (postgres.js describes the statement first): int4
      const series = await sql`SELECT ${3}::int AS a, generate_series(1, 2) AS x`;
      expect(series.map((r) => r.a + r.x)).toEqual([4, 5]);

      // a bare parameter has the type the client declared for it, as in PostgreSQL
      const now = new Date();
      const [typed] = await sql`SELECT ${now} AS at, ${true} AS ok, ${sql.json({ a: 1 })} AS doc`;
      expect(typed!.at).toBeInstanceOf(Date);
      expect((typed!.at as Date).getTime()).toBe(now.getTime());
      expect(typed!.ok).toBe(true);
      expect(typed!.doc).toEqual({ a: 1 });
      // a parameter declared an array (int4[]) is refused, not answered as a string
      await expect(sql`SELECT ${sql.array([1, 2, 3], 1007)} AS xs`).rejects.toMatchObject({ code: '0A000' });

      // a declared parameter type PostgreSQL cannot assign to the column is refused as PostgreSQL refuses it
      await sql`CREATE TABLE typed (id int PRIMARY KEY, n int, at timestamptz, note text)`;
      await expect(sql`INSERT INTO typed (id, n) VALUES (1, ${false})`).rejects.toMatchObject({
        code: '42804', message: 'column "n" is of type bigint but expression is of type boolean',
      });
      await expect(sql`UPDATE typed SET n = ${now} WHERE id = 1`).rejects.toMatchObject({ code: '42804' });
      await sql`INSERT INTO typed (id, at, note) VALUES (2, ${now}, ${true})`;
      const [back] = await sql`SELECT at, note FROM typed WHERE id = 2`;
      expect((back!.at as Date).getTime()).toBe(now.getTime());
      expect(back!.note).toBe('true');
      expect((await sql`SELECT count(*)::int AS n FROM typed`)[0]!.n).toBe(1);

      // a refused PREPARE TRANSACTION ends the transaction as PostgreSQL's does: the session is idle, not failed
      await expect(sql.begin(async (tx) => {
        await tx`INSERT INTO cur VALUES (6)`;
        await tx.prepare('tx1');
      })).rejects.toMatchObject({ code: '0A000' });
      expect((await sql`SELECT count(*)::int AS n FROM cur`)[0]!.n).toBe(5);
    } finally {
      await sql.end({ timeout: 2 });
    }
  }, 30_000);
});
