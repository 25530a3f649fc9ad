// Creating the target schema: tables (keys, NOT NULL, DEFAULT, UNIQUE) and
// CHECKs in one transaction, so a failure leaves nothing half-made; a CHECK the
// target cannot express is reported rather than failing the lot. After the
// copy (post-copy.ts): foreign keys NOT VALID then VALIDATE, and secondary
// indexes; objects that already exist are left alone, so both steps can be
// run again.
import { pgClient } from '../../common/pg-config.ts';
import { checkSql, createTableSql } from './ddl.ts';
import type { SchemaPlan, Unmapped } from './model.ts';
import { qualifiedName, tableLabel } from './model.ts';

export interface ApplyResult {
  created: string[];
  existing: string[];
  /** CHECKs the target refused, with its reason. */
  refused: Unmapped[];
}

export async function applySchema(targetUrl: string, plan: SchemaPlan): Promise<ApplyResult> {
  const c = pgClient(targetUrl);
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

export { applyPostCopy } from './post-copy.ts';
