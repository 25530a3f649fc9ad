// Creating the target schema: tables (keys, NOT NULL, DEFAULT, UNIQUE) and
// CHECKs in one transaction, so a failure leaves nothing half-made; a CHECK the
// target cannot express is reported rather than failing the lot. After the
// copy: foreign keys NOT VALID then VALIDATE, and secondary indexes; objects
// that already exist are left alone, so both steps can be run again.
import pg from 'pg';
import { pgClientConfig } from '../../common/pg-config.ts';
import { checkSql, createTableSql, foreignKeySql, uniqueSql } from './ddl.ts';
import type { SchemaPlan, TableDef, Unmapped } from './model.ts';
import { qualifiedName, tableLabel } from './model.ts';

export interface ApplyResult {
  created: string[];
  existing: string[];
  /** CHECKs the target refused, with its reason. */
  refused: Unmapped[];
}

export async function applySchema(targetUrl: string, plan: SchemaPlan): Promise<ApplyResult> {
  const c = new pg.Client(pgClientConfig(targetUrl));
  await c.connect();
  const res: ApplyResult = { created: [], existing: [], refused: [] };
  try {
    await c.query('BEGIN');
    for (const s of plan.prelude) await c.query(s);
    for (const t of plan.tables) {
      const exists = await c.query(`SELECT to_regclass($1) IS NOT NULL AS x`, [qualifiedName(t)]);
      if (exists.rows[0].x) {
        res.existing.push(tableLabel(t));
        continue;
      }
      await c.query(createTableSql(t));
      res.created.push(tableLabel(t));
      for (const chk of t.checks) {
        await c.query('SAVEPOINT chk');
        try {
          await c.query(checkSql(t, chk));
          await c.query('RELEASE SAVEPOINT chk');
        } catch (e) {
          await c.query('ROLLBACK TO SAVEPOINT chk');
          res.refused.push({ table: tableLabel(t), what: `CHECK (${chk.expr})`, reason: `the target refused it: ${(e as Error).message}` });
        }
      }
    }
    for (const s of plan.postTables) await c.query(s);
    await c.query('COMMIT');
    return res;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    await c.end();
  }
}

/**
 * Unique constraints, foreign keys and secondary indexes, once the history is
 * in: each built by one sort rather than a row-by-row insert, two at a time
 * (unique constraints first: foreign keys may reference them). Returns what
 * it created.
 */
export async function applyPostCopy(targetUrl: string, plan: SchemaPlan, parallel = 2): Promise<string[]> {
  const clients = await Promise.all(Array.from({ length: parallel }, async () => {
    const c = new pg.Client(pgClientConfig(targetUrl));
    await c.connect();
    await c.query(`SET maintenance_work_mem = '256MB'`);
    return c;
  }));
  const done: string[] = [];
  type Task = (c: pg.Client) => Promise<void>;
  const runAll = async (tasks: Task[]) => {
    const queue = [...tasks];
    await Promise.all(clients.map(async (c) => {
      for (let t = queue.shift(); t; t = queue.shift()) await t(c);
    }));
  };
  const has = async (c: pg.Client, t: TableDef, name: string) =>
    Boolean((await c.query(`SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2`, [qualifiedName(t), name])).rowCount);
  try {
    await runAll(plan.tables.flatMap((t) => t.uniques.map((u): Task => async (c) => {
      if (await has(c, t, u.name)) return;
      const [index, attach] = uniqueSql(t, u);
      await c.query(index);
      await c.query(attach);
      done.push(`unique constraint ${u.name} on ${tableLabel(t)}`);
    })));
    await runAll(plan.tables.flatMap((t) => [
      ...t.foreignKeys.map((f): Task => async (c) => {
        if (await has(c, t, f.name)) return;
        const [add, validate] = foreignKeySql(t, f);
        await c.query(add);
        await c.query(validate);
        done.push(`foreign key ${f.name} on ${tableLabel(t)}`);
      }),
      ...t.indexes.map((i): Task => async (c) => {
        const exists = await c.query(`SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, [t.schema, i.name]);
        if (exists.rowCount) return;
        await c.query(i.sql);
        done.push(`index ${i.name} on ${tableLabel(t)}`);
      }),
    ]));
    return done.sort((a, b) => rank(a) - rank(b));
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

const rank = (s: string) => (s.startsWith('unique') ? 0 : s.startsWith('foreign') ? 1 : 2);
