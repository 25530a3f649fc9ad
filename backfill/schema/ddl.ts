// DDL text for a schema plan: what goes in before the copy and what after.
import type { SchemaPlan, TableDef } from './model.ts';
import { qi, qualifiedName } from './model.ts';

export function createTableSql(t: TableDef): string {
  const lines = t.columns.map((c) => {
    let s = `${qi(c.name)} ${c.type}${c.collation ? ` COLLATE ${c.collation}` : ''}`;
    if (c.generated) return `${s} GENERATED ALWAYS AS (${c.generated}) STORED`;
    if (c.identity) s += ` GENERATED ${c.identity.toUpperCase()} AS IDENTITY`;
    else if (c.default !== null) s += ` DEFAULT ${c.default}`;
    if (c.notNull) s += ' NOT NULL';
    return s;
  });
  if (t.key.length) lines.push(`PRIMARY KEY (${t.key.map(qi).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${qualifiedName(t)} (\n  ${lines.join(',\n  ')}\n)`;
}

export function checkSql(t: TableDef, c: TableDef['checks'][number]): string {
  return `ALTER TABLE ${qualifiedName(t)} ADD CONSTRAINT ${qi(c.name)} CHECK (${c.expr})`;
}

/** Foreign keys first go in NOT VALID (no scan, no lock on history), then are validated. */
export function foreignKeySql(t: TableDef, f: TableDef['foreignKeys'][number]): [string, string] {
  return [
    `ALTER TABLE ${qualifiedName(t)} ADD CONSTRAINT ${qi(f.name)} FOREIGN KEY (${f.columns.map(qi).join(', ')}) ` +
      `REFERENCES ${qi(f.refSchema)}.${qi(f.refTable)} (${f.refColumns.map(qi).join(', ')}) ON DELETE ${f.onDelete} ON UPDATE ${f.onUpdate} NOT VALID`,
    `ALTER TABLE ${qualifiedName(t)} VALIDATE CONSTRAINT ${qi(f.name)}`,
  ];
}

/**
 * UNIQUE constraints are built after the copy, like indexes (one sort instead
 * of an index insert per row), then attached as constraints.
 */
export function uniqueSql(t: TableDef, u: TableDef['uniques'][number]): [string, string] {
  return [
    `CREATE UNIQUE INDEX IF NOT EXISTS ${qi(u.name)} ON ${qualifiedName(t)} (${u.columns.map(qi).join(', ')})`,
    `ALTER TABLE ${qualifiedName(t)} ADD CONSTRAINT ${qi(u.name)} UNIQUE USING INDEX ${qi(u.name)}`,
  ];
}

/** The whole plan as a script an operator can read or run by hand. */
export function planScript(plan: SchemaPlan): string {
  const out: string[] = ['-- before the copy'];
  out.push(...plan.prelude.map((s) => s + ';'));
  for (const t of plan.tables) {
    out.push(createTableSql(t) + ';');
    out.push(...t.checks.map((c) => checkSql(t, c) + ';'));
  }
  out.push(...plan.postTables.map((s) => s + ';'));
  out.push('', '-- after the copy (cutover backfill runs these when it finishes): unique constraints, foreign keys, indexes');
  for (const t of plan.tables) {
    for (const u of t.uniques) out.push(...uniqueSql(t, u).map((s) => s + ';'));
  }
  for (const t of plan.tables) {
    for (const f of t.foreignKeys) out.push(...foreignKeySql(t, f).map((s) => s + ';'));
    out.push(...t.indexes.map((i) => i.sql + ';'));
  }
  if (plan.unmapped.length) {
    out.push('', '-- not carried over as-is:');
    for (const u of plan.unmapped) out.push(`--   ${u.table}${u.column ? '.' + u.column : ''}: ${u.what}: ${u.reason}`);
  }
  return out.join('\n');
}
