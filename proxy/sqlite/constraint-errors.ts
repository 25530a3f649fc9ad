// A constraint violation as PostgreSQL reports it: the constraint's name in
// the message and in the ErrorResponse's constraint field, the table (and the
// column, for NOT NULL). Applications and ORMs tell one unique violation from
// another by that name (node-postgres's `err.constraint`, Prisma's target,
// Django's IntegrityError text); SQLite names only the columns, so the name is
// found in the file's schema and given as the schema copy names it on the new
// database (common/constraint-names.ts).
import type Database from 'better-sqlite3';
import { foreignKeyName, primaryKeyName, uniqueName } from '../../common/constraint-names.ts';
import { tableChecks } from '../../backfill/schema/from-sqlite.ts';
import { parseExpression } from '../../backfill/schema/sql-ast.ts';
import { PgError } from './errors.ts';

interface IndexRow { name: string; unique: number | bigint; origin: string }

const quoted = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Runs a PRAGMA that names a table or index, which may be in main or temp; [] when it is neither. Integers may come as bigint (the session reads them so). */
function pragma<T>(db: Database.Database, name: string, what: string): T[] {
  try {
    return db.prepare(`PRAGMA ${what}(${quoted(name)})`).all() as T[];
  } catch {
    return [];
  }
}

const indexColumns = (db: Database.Database, index: string): string[] =>
  pragma<{ seqno: number | bigint; name: string | null }>(db, index, 'index_info').sort((a, b) => Number(a.seqno) - Number(b.seqno)).map((c) => c.name ?? '');

/** The unique constraint or index SQLite reported by its columns ('t.a, t.b') or its name ("index 'ix'"). */
function uniqueViolation(db: Database.Database, pe: PgError, text: string, writeTable: string | undefined, primary: boolean): PgError {
  const named = /^index '(.+)'$/.exec(text);
  if (named) return describe(db, pe, `duplicate key value violates unique constraint ${quoted(named[1]!)}`, { table: writeTable, constraint: named[1] });
  const pairs = text.split(', ').map((p) => /^(.+)\.([^.]+)$/.exec(p));
  if (pairs.some((p) => !p)) return pe;
  const table = pairs[0]![1]!;
  const columns = pairs.map((p) => p![2]!);
  let constraint: string | undefined;
  for (const ix of pragma<IndexRow>(db, table, 'index_list')) {
    if (!Number(ix.unique)) continue;
    const cols = indexColumns(db, ix.name);
    if (cols.length !== columns.length || cols.some((c, i) => c.toLowerCase() !== columns[i]!.toLowerCase())) continue;
    constraint = ix.origin === 'pk' ? primaryKeyName(table) : ix.origin === 'u' ? uniqueName(table, cols) : ix.name;
    break;
  }
  // an INTEGER PRIMARY KEY is the rowid: no index holds it
  constraint ??= primary ? primaryKeyName(table) : undefined;
  if (!constraint) return describe(db, pe, pe.message, { table });
  return describe(db, pe, `duplicate key value violates unique constraint ${quoted(constraint)}`, { table, constraint });
}

/** Parse tree of an expression without its text positions: two spellings of one CHECK compare equal. */
function exprShape(tree: unknown): string {
  return JSON.stringify(tree, (k, v) => (k === 'location' || k === 'stmt_location' || k === 'stmt_len' ? undefined : v));
}

/** The name the CHECK SQLite reported (its name, or its expression's text) goes by. */
function checkConstraint(db: Database.Database, text: string, table: string): string | undefined {
  const row = db.prepare(`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ? UNION ALL SELECT sql FROM sqlite_temp_schema WHERE type = 'table' AND name = ?`).get(table, table) as { sql: string } | undefined;
  if (!row) return undefined;
  let checks: ReturnType<typeof tableChecks>;
  try {
    checks = tableChecks(table, row.sql);
  } catch {
    return undefined;
  }
  const named = checks.find((c) => c.name === text);
  if (named) return named.name;
  const expr = parseExpression(text);
  const wanted = expr ? exprShape(expr) : null;
  return checks.find((c) => exprShape(c.expr) === wanted)?.name;
}

/** The table's foreign key, when it has exactly one (SQLite does not say which failed). */
function onlyForeignKey(db: Database.Database, table: string): string | undefined {
  const rows = pragma<{ id: number | bigint; seq: number | bigint; from: string }>(db, table, 'foreign_key_list');
  if (!rows.length || rows.some((r) => Number(r.id) !== Number(rows[0]!.id))) return undefined;
  return foreignKeyName(table, rows.sort((a, b) => Number(a.seq) - Number(b.seq)).map((r) => r.from));
}

/** The error with PostgreSQL's message and its object; a table of the file is in schema public (a temporary one is in none the new database has). */
function describe(db: Database.Database, pe: PgError, message: string, fields: NonNullable<PgError['fields']>): PgError {
  const defined = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
  const inFile = fields.table !== undefined && db.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?`).get(fields.table) !== undefined;
  return new PgError(pe.code, message, pe.detail, pe.hint, { ...(inFile ? { schema: 'public' } : {}), ...defined });
}

/**
 * `pe` (fromSqlite's translation of a constraint error) with PostgreSQL's
 * message and fields; `sqliteMessage` is SQLite's own text, `writeTable` the
 * table an INSERT or UPDATE writes, for the errors where SQLite names none.
 */
export function withConstraintFields(db: Database.Database, pe: PgError, sqliteCode: string, sqliteMessage: string, writeTable: string | undefined, inserting: boolean): PgError {
  try {
    let m: RegExpExecArray | null;
    if ((m = /^UNIQUE constraint failed: (.+)$/.exec(sqliteMessage))) {
      return uniqueViolation(db, pe, m[1]!, writeTable, sqliteCode !== 'SQLITE_CONSTRAINT_UNIQUE');
    }
    if ((m = /^NOT NULL constraint failed: (.+)\.([^.]+)$/.exec(sqliteMessage))) {
      return describe(db, pe, `null value in column ${quoted(m[2]!)} of relation ${quoted(m[1]!)} violates not-null constraint`, { table: m[1], column: m[2] });
    }
    if (!writeTable) return pe;
    if ((m = /^CHECK constraint failed: (.+)$/.exec(sqliteMessage))) {
      const constraint = checkConstraint(db, m[1]!, writeTable);
      if (!constraint) return describe(db, pe, `new row for relation ${quoted(writeTable)} violates check constraint`, { table: writeTable });
      return describe(db, pe, `new row for relation ${quoted(writeTable)} violates check constraint ${quoted(constraint)}`, { table: writeTable, constraint });
    }
    // an UPDATE may fail as the parent of another table's key, which PostgreSQL words otherwise
    if (/^FOREIGN KEY constraint failed$/.test(sqliteMessage) && inserting) {
      const constraint = onlyForeignKey(db, writeTable);
      const message = `insert or update on table ${quoted(writeTable)} violates foreign key constraint${constraint ? ' ' + quoted(constraint) : ''}`;
      return describe(db, pe, message, { table: writeTable, constraint });
    }
  } catch {
    // the schema could not be read: the plain translation still has the right SQLSTATE
  }
  return pe;
}
