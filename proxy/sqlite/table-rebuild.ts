// ALTER TABLE … ADD PRIMARY KEY / UNIQUE on an SQLite table. A unique key is
// a unique index. SQLite cannot add a primary key to a table, so the table is
// rebuilt as SQLite's documentation describes: a copy made with the key, the
// rows moved, the old one dropped, its indexes and triggers made again — all
// in the session's transaction, so a failure leaves the table as it was.
// `pgbench -i` adds its keys this way, after loading the rows.
import type Database from 'better-sqlite3';
import { primaryKeyName, uniqueName } from '../../common/constraint-names.ts';
import { qi as q } from '../../backfill/schema/model.ts';
import { fromSqlite, PgError, unsupported } from './errors.ts';
import type { AddKey } from './translate.ts';

interface Column { name: string; notnull: number | bigint; pk: number | bigint }

export function addKey(db: Database.Database, k: AddKey): void {
  const info = db.pragma(`table_info(${q(k.table)})`) as Column[];
  const row = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE`).get(k.table) as { name: string; sql: string } | undefined;
  if (!info.length || !row) throw new PgError('42P01', `relation "${k.table}" does not exist`);
  const table = row.name;
  const columns = k.columns.map((c) => {
    const col = info.find((x) => x.name.toLowerCase() === c.toLowerCase());
    if (!col) throw new PgError('42703', `column "${c}" named in key does not exist`);
    return col;
  });
  const seen = new Set<string>();
  for (const c of columns) {
    if (seen.has(c.name.toLowerCase())) throw new PgError('42701', `column "${c.name}" appears twice in ${k.primary ? 'primary key' : 'unique'} constraint`);
    seen.add(c.name.toLowerCase());
  }
  const names = columns.map((c) => c.name);
  const name = k.name ?? (k.primary ? primaryKeyName(table) : uniqueName(table, names));
  if (db.prepare(`SELECT 1 FROM sqlite_master WHERE name = ? COLLATE NOCASE`).get(name)) throw new PgError('42P07', `relation "${name}" already exists`);
  const list = names.map(q).join(', ');
  if (!k.primary) {
    refuseDuplicates(db, table, names, name);
    run(db, `CREATE UNIQUE INDEX ${q(name)} ON ${q(table)} (${list})`);
    return;
  }
  if (info.some((c) => Number(c.pk) > 0)) throw new PgError('42P16', `multiple primary keys for table "${table}" are not allowed`);
  const referencing = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[]).filter((t) =>
    t !== table && (db.pragma(`foreign_key_list(${q(t)})`) as { table: string }[]).some((f) => f.table.toLowerCase() === table.toLowerCase()));
  if (referencing.length) {
    throw unsupported(`ADD PRIMARY KEY on a table other tables' foreign keys reference (${referencing.join(', ')})`, 'add the key before the references');
  }
  for (const c of columns) {
    if (db.prepare(`SELECT 1 FROM ${q(table)} WHERE ${q(c.name)} IS NULL LIMIT 1`).get()) {
      throw new PgError('23502', `column "${c.name}" of relation "${table}" contains null values`, undefined, undefined, { schema: 'public', table, column: c.name });
    }
  }
  refuseDuplicates(db, table, names, name);
  const close = row.sql.lastIndexOf(')');
  if (close < 0) throw new PgError('XX000', `cannot read the definition of table "${table}"`);
  // PostgreSQL's key columns are NOT NULL: SQLite's (other than the rowid) are not, unless declared so
  const notNull = columns.filter((c) => !Number(c.notnull)).map((c) => `, CONSTRAINT ${q(`${table}_${c.name}_not_null`)} CHECK (${q(c.name)} IS NOT NULL)`).join('');
  const created = `${row.sql.slice(0, close)}, CONSTRAINT ${q(name)} PRIMARY KEY (${list})${notNull}${row.sql.slice(close)}`;
  const others = db.prepare(`SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type = 'trigger', rowid`).pluck().all(table) as string[];
  const old = `_cutover_rebuild_${table}`;
  // the rename must not rewrite views and triggers that name the table: they name the rebuilt one in the end
  db.pragma('legacy_alter_table = ON');
  try {
    run(db, `ALTER TABLE ${q(table)} RENAME TO ${q(old)}`);
    run(db, created);
    run(db, `INSERT INTO ${q(table)} SELECT * FROM ${q(old)}`);
    // the implied DELETE of a DROP fires no triggers: the capture sees no change, as none was made
    run(db, `DROP TABLE ${q(old)}`);
    for (const sql of others) run(db, sql);
  } finally {
    db.pragma('legacy_alter_table = OFF');
  }
}

/** 23505 as PostgreSQL reports a key it cannot build over duplicate rows. */
function refuseDuplicates(db: Database.Database, table: string, names: string[], index: string): void {
  const list = names.map(q).join(', ');
  const dup = db.prepare(`SELECT ${list} FROM ${q(table)} WHERE ${names.map((n) => `${q(n)} IS NOT NULL`).join(' AND ')} GROUP BY ${list} HAVING count(*) > 1 LIMIT 1`).raw(true).get() as unknown[] | undefined;
  if (!dup) return;
  throw new PgError('23505', `could not create unique index ${q(index)}`, `Key (${names.join(', ')})=(${dup.map((v) => String(v)).join(', ')}) is duplicated.`, undefined, { schema: 'public', table, constraint: index });
}

function run(db: Database.Database, sql: string): void {
  try {
    db.exec(sql);
  } catch (e) {
    throw fromSqlite(e);
  }
}
