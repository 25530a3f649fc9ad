import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { databasePair, type DbPair } from '../harness/databases.ts';
import { startTestProxy, type TestProxy } from './proxy-harness.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await databasePair('proxy_postgres_js');
  tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
});
afterAll(async () => {
  await tp?.close();
});

describe('postgres.js through the proxy', () => {
  it('pipelines named prepared statements, transactions, COPY and LISTEN/NOTIFY', async () => {
    const sql = postgres(tp.url(pair.name), { max: 4, prepare: true, onnotice: () => undefined });
    try {
      await sql`CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL, qty int NOT NULL DEFAULT 0, at timestamptz DEFAULT now())`;
      // many queries in flight on few connections: postgres.js pipelines them
      const inserted = await Promise.all(Array.from({ length: 200 }, (_, i) => sql`INSERT INTO items (name, qty) VALUES (${'n' + i}, ${i}) RETURNING id`));
      expect(inserted).toHaveLength(200);
      const [{ total }] = (await sql<{ total: number }[]>`SELECT sum(qty)::int AS total FROM items`) as unknown as [{ total: number }];
      expect(total).toBe((199 * 200) / 2);
      const reads = await Promise.all(Array.from({ length: 100 }, (_, i) => sql`SELECT name FROM items WHERE qty = ${i}`));
      expect(reads.map((r) => r[0]!.name)).toEqual(Array.from({ length: 100 }, (_, i) => 'n' + i));

      await expect(sql.begin(async (tx) => {
        await tx`UPDATE items SET qty = qty + 1000 WHERE qty < 10`;
        throw new Error('abort on purpose');
      })).rejects.toThrow('abort on purpose');
      const [{ n }] = (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM items WHERE qty >= 1000`) as unknown as [{ n: number }];
      expect(n).toBe(0);
      await sql.begin(async (tx) => {
        await tx`UPDATE items SET qty = qty + 1000 WHERE qty < 10`;
        await tx.savepoint(async (sp) => {
          await sp`DELETE FROM items`;
          throw new Error('roll back the savepoint');
        }).catch(() => undefined);
      });
      const [{ m }] = (await sql<{ m: number }[]>`SELECT count(*)::int AS m FROM items WHERE qty >= 1000`) as unknown as [{ m: number }];
      expect(m).toBe(10);

      await expect(sql`SELECT * FROM missing_table`).rejects.toMatchObject({ code: '42P01' });

      const copied: string[] = [];
      const out = await sql`COPY (SELECT id FROM items ORDER BY id LIMIT 3) TO STDOUT`.readable();
      for await (const chunk of out) copied.push(chunk.toString());
      expect(copied.join('').trim().split('\n')).toHaveLength(3);

      const heard = new Promise<string>((resolve) => void sql.listen('pjs_channel', (payload) => resolve(payload)));
      await new Promise((r) => setTimeout(r, 100));
      await sql.notify('pjs_channel', 'ping');
      expect(await heard).toBe('ping');
    } finally {
      await sql.end({ timeout: 2 });
    }
  });
});
