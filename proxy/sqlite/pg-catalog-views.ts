// pg_class, pg_attribute, pg_index, pg_constraint … of one session's attached
// pg_catalog, filled from the file's schema (schema-model.ts) when a catalog
// query runs and the schema changed since they were last filled. Ordinary
// statements never touch them: only statements the translator marks as
// catalog reads (catalog-translate.ts) call refresh().
//
// "Changed" is PRAGMA schema_version, which SQLite bumps for every schema
// change, whichever connection or process made it (DDL through this proxy,
// another session, a migration tool on the file), and which a rolled-back DDL
// takes back. The tables themselves hold the version they were filled for:
// the fill runs inside the session's transaction, so a ROLLBACK of it also
// takes back that mark, and the next catalog query fills them again.
import type Database from 'better-sqlite3';
import { catalogDdl } from './catalog-tables.ts';
import { BTREE_AM, HEAP_AM, OWNER_OID, PUBLIC_OID, readSchemaModel, type SchemaModel } from './schema-model.ts';
import { OID, typeSize } from './types.ts';

const PG_CLASS_OID = 1259;

/** pg_database_owner: the owner PostgreSQL 15 gives the public schema. */
export const DATABASE_OWNER_OID = 6171;

const VARLENA = new Set<number>([OID.text, OID.varchar, OID.bpchar, OID.bytea, OID.numeric, OID.json, OID.jsonb]);
const pgArray = (xs: number[]): string => `{${xs.join(',')}}`;

export class PgCatalog {
  private model: { version: unknown; schema: SchemaModel } | null = null;
  private readonly hasTables: Database.Statement;
  private readonly mainVersion: Database.Statement;

  constructor(private readonly db: Database.Database, private readonly who: { user: string; database: string }) {
    this.hasTables = db.prepare(`SELECT 1 FROM pg_catalog.sqlite_schema WHERE name = 'cutover_catalog_version'`).pluck();
    this.mainVersion = db.prepare('PRAGMA main.schema_version').pluck().safeIntegers(false);
  }

  /** The schema the tables describe now (refresh() first). */
  schema(): SchemaModel {
    return this.model?.schema ?? { relations: [], attributes: [], indexes: [], constraints: [], triggers: [], sequences: [] };
  }

  /**
   * Creates the relations on first use (most sessions never describe anything),
   * so a statement naming them can be prepared. Again after a ROLLBACK took
   * back the transaction that created them.
   */
  ensure(): void {
    if (this.hasTables.get()) return;
    this.db.exec(`${catalogDdl()}
      CREATE TABLE pg_catalog.cutover_catalog_version (version INTEGER);
      INSERT INTO pg_catalog.cutover_catalog_version VALUES (NULL);`);
  }

  /** Fills the relations again if the file's schema changed since they were filled. */
  refresh(): void {
    this.ensure();
    const version = this.mainVersion.get();
    const filled = this.db.prepare('SELECT version FROM pg_catalog.cutover_catalog_version').pluck().safeIntegers(false).get();
    if (filled === version && this.model?.version === version) return;
    const model = this.model && this.model.version === version ? this.model : { version, schema: readSchemaModel(this.db) };
    this.model = model;
    this.fill(model.schema);
    this.db.prepare('UPDATE pg_catalog.cutover_catalog_version SET version = ?').run(version);
  }

  private fill(m: SchemaModel): void {
    const db = this.db;
    for (const t of ['pg_class', 'pg_attribute', 'pg_attrdef', 'pg_index', 'pg_constraint', 'pg_trigger', 'pg_sequence', 'pg_depend', 'pg_roles', 'pg_database']) {
      db.exec(`DELETE FROM pg_catalog.${t}`);
    }
    const insert = (table: string, n: number) => db.prepare(`INSERT INTO pg_catalog.${table} VALUES (${Array(n).fill('?').join(', ')})`);
    const cls = insert('pg_class', 31);
    for (const r of m.relations) {
      const am = r.kind === 'r' ? HEAP_AM : r.kind === 'i' ? BTREE_AM : 0;
      cls.run(r.oid, r.name, PUBLIC_OID, 0, 0, OWNER_OID, am, r.oid, 0, 0, -1, 0, 0, +r.hasIndex, 0, 'p', r.kind, r.columns, r.checks,
        0, +r.hasTriggers, 0, 0, 0, 1, r.kind === 'r' ? 'd' : 'n', 0, 0, null, null, null);
    }
    const att = insert('pg_attribute', 23);
    const def = insert('pg_attrdef', 4);
    let defOid = 6_000_000;
    const attribute = (relid: number, name: string, num: number, type: number, typmod: number, notNull: boolean, hasDef: boolean, identity: string) =>
      att.run(relid, name, type, -1, typeSize(type), num, 0, typmod, +!VARLENA.has(type), 'i', VARLENA.has(type) ? 'x' : 'p', '', +notNull, +hasDef, 0, identity, '', 0, 1, 0, 0, null, null);
    for (const a of m.attributes) {
      attribute(a.relid, a.name, a.num, a.typeOid, a.typmod, a.notNull, a.default !== null, a.identity);
      if (a.default !== null) def.run(defOid++, a.relid, a.num, a.default);
    }
    const idx = insert('pg_index', 21);
    for (const i of m.indexes) {
      // an index's own columns: the table's, or the expression's ("lower" for lower(email), as PostgreSQL names it)
      i.keys.forEach((k, n) => {
        const col = m.attributes.find((a) => a.relid === i.relid && a.num === k);
        const exprName = /^([A-Za-z_][\w$]*)\s*\(/.exec(i.keyTexts[n] ?? '')?.[1] ?? 'expr';
        attribute(i.oid, col?.name ?? exprName, n + 1, col?.typeOid ?? OID.text, col?.typmod ?? -1, false, false, '');
      });
      const exprs = i.keys.some((k) => k === 0) ? i.keyTexts.filter((_, n) => i.keys[n] === 0).join(', ') : null;
      idx.run(i.oid, i.relid, i.keys.length, i.keys.length, +i.unique, 0, +i.primary, 0, 1, 0, 1, 0, 1, 1, 0, i.keys.join(' '), '', '', i.keys.map(() => 0).join(' '), exprs, i.predicate);
    }
    const con = insert('pg_constraint', 21);
    for (const c of m.constraints) {
      con.run(c.oid, c.name, PUBLIC_OID, c.type, 0, 0, 1, c.relid, 0, c.index, 0, c.refRelid, c.type === 'f' ? c.onUpdate : ' ', c.type === 'f' ? c.onDelete : ' ',
        c.type === 'f' ? 's' : ' ', 1, 0, 0, c.keys.length ? pgArray(c.keys) : null, c.refKeys.length ? pgArray(c.refKeys) : null, c.type === 'c' ? c.def : null);
    }
    const trg = insert('pg_trigger', 19);
    for (const t of m.triggers) trg.run(t.oid, t.relid, 0, t.name, 0, 0, 'O', +t.internal, 0, 0, 0, 0, 0, 0, '', null, null, null, null);
    const seq = insert('pg_sequence', 8);
    // a serial's sequence belongs to its column ('a': auto), which psql shows as "Owned by: public.t.id"
    const dep = insert('pg_depend', 7);
    for (const s of m.sequences) {
      seq.run(s.oid, OID.int8, 1, 1, 9223372036854775807n, 1, 1, 0);
      dep.run(PG_CLASS_OID, s.oid, 0, PG_CLASS_OID, s.relid, s.column, 'a');
    }
    insert('pg_roles', 13).run(this.who.user, 0, 1, 0, 0, 1, 0, -1, '********', null, 0, null, OWNER_OID);
    insert('pg_roles', 13).run('pg_database_owner', 0, 1, 0, 0, 0, 0, -1, '********', null, 0, null, DATABASE_OWNER_OID);
    // byte order of UTF-8 is what SQLite's BINARY compares by: PostgreSQL's C collation
    insert('pg_database', 14).run(16384, this.who.database, OWNER_OID, 6, 'c', 0, 1, -1, 1663, 'C', 'C', null, null, null);
  }
}
