// Reads a PostgreSQL source's tables into the target schema plan from the
// catalogues (format_type, pg_get_expr, pg_get_constraintdef, pg_get_indexdef),
// so the target gets the same DDL whatever pg_dump version is installed.
import type pg from 'pg';
import { isUserSchema } from '../../proxy/capture/pg-capture.ts';
import type { ColumnDef, SchemaPlan, TableDef, Unmapped } from './model.ts';
import { qi, ql } from './model.ts';

const USER_SCHEMAS = isUserSchema('n.nspname');

export async function postgresSchema(db: pg.ClientBase, only?: string[]): Promise<SchemaPlan> {
  const unmapped: Unmapped[] = [];
  const prelude: string[] = [];
  const postTables: string[] = [];

  const schemas = await db.query<{ nspname: string }>(`SELECT DISTINCT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','S') AND ${USER_SCHEMAS} AND n.nspname <> 'public'`);
  for (const s of schemas.rows) prelude.push(`CREATE SCHEMA IF NOT EXISTS ${qi(s.nspname)}`);

  const enums = await db.query<{ name: string; labels: string[]; exists_sql: string }>(`
    SELECT format('%I.%I', n.nspname, t.typname) AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
     WHERE ${USER_SCHEMAS} GROUP BY 1`);
  for (const e of enums.rows) {
    prelude.push(`DO $$ BEGIN CREATE TYPE ${e.name} AS ENUM (${e.labels.map(ql).join(', ')}); EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  }

  // collations of the application's own (CREATE COLLATION): the target needs them before its tables;
  // to_jsonb reads the locale wherever the server version keeps it (colliculocale, colllocale)
  const colls = await db.query<{ schema: string; name: string; c: Record<string, unknown> }>(`
    SELECT n.nspname AS schema, format('%I.%I', n.nspname, co.collname) AS name, to_jsonb(co) AS c
      FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
     WHERE ${USER_SCHEMAS} AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attcollation = co.oid AND a.attnum > 0)`);
  for (const { schema, name, c } of colls.rows) {
    // (a schema holding only collations is not among the schemas of tables above)
    if (schema !== 'public' && !schemas.rows.some((x) => x.nspname === schema)) prelude.push(`CREATE SCHEMA IF NOT EXISTS ${qi(schema)}`);
    const icu = c.collprovider === 'i';
    const locale = icu ? `locale = ${ql(String(c.colllocale ?? c.colliculocale ?? c.collcollate))}` : `lc_collate = ${ql(String(c.collcollate))}, lc_ctype = ${ql(String(c.collctype))}`;
    prelude.push(`CREATE COLLATION IF NOT EXISTS ${name} (provider = ${icu ? 'icu' : 'libc'}, ${locale}, deterministic = ${c.collisdeterministic === false ? 'false' : 'true'})`);
  }

  const rels = await db.query<{ oid: number; schema: string; name: string }>(`
    SELECT c.oid, n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND ${USER_SCHEMAS} ORDER BY 2, 3`);
  const tables: { oid: number; def: TableDef }[] = [];
  for (const r of rels.rows) {
    if (only?.length && !only.includes(r.name) && !only.includes(`${r.schema}.${r.name}`)) continue;
    tables.push({ oid: r.oid, def: await readTable(db, r, unmapped) });
  }
  // sequences behind serial/nextval defaults (identity sequences come with their columns);
  // with --tables, only those the chosen tables own or draw defaults from
  const chosen = new Set(tables.map((t) => String(t.oid)));
  const seqs = await db.query<{ name: string; type: string; inc: string; start: string; min: string; max: string; cycle: boolean; owner: string | null; owner_oid: string | null; users: string[] }>(`
    SELECT format('%I.%I', n.nspname, c.relname) AS name, format_type(s.seqtypid, NULL) AS type, s.seqincrement::text AS inc,
           s.seqstart::text AS start, s.seqmin::text AS min, s.seqmax::text AS max, s.seqcycle AS cycle,
           (SELECT format('%I.%I.%I', tn.nspname, tc.relname, a.attname) FROM pg_depend d
              JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
              JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'a') AS owner,
           (SELECT d.refobjid::text FROM pg_depend d WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'a') AS owner_oid,
           ARRAY(SELECT d.refobjid::text FROM pg_depend d WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'a'
                 UNION SELECT ad.adrelid::text FROM pg_depend d JOIN pg_attrdef ad ON ad.oid = d.objid
                  WHERE d.classid = 'pg_attrdef'::regclass AND d.refobjid = c.oid) AS users
      FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${USER_SCHEMAS}
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'i')`);
  for (const s of seqs.rows) {
    if (only?.length && !s.users.some((oid) => chosen.has(oid))) continue;
    prelude.push(`CREATE SEQUENCE IF NOT EXISTS ${s.name} AS ${s.type} INCREMENT BY ${s.inc} MINVALUE ${s.min} MAXVALUE ${s.max} START WITH ${s.start}${s.cycle ? ' CYCLE' : ''}`);
    if (s.owner && (!only?.length || chosen.has(s.owner_oid!))) postTables.push(`ALTER SEQUENCE ${s.name} OWNED BY ${s.owner}`);
  }
  return { prelude, tables: tables.map((t) => t.def), postTables, unmapped };
}

async function readTable(db: pg.ClientBase, rel: { oid: number; schema: string; name: string }, unmapped: Unmapped[]): Promise<TableDef> {
  const label = rel.schema === 'public' ? rel.name : `${rel.schema}.${rel.name}`;
  // a column's own collation (COLLATE "C", an ICU one): without it the target sorts, compares and
  // enforces uniqueness by its database default instead, and the application's ORDER BY changes at cutover
  const cols = await db.query<{ name: string; type: string; notnull: boolean; def: string | null; identity: string; generated: string; typtype: string; collation: string | null; xml: boolean }>(`
    SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull, t.typoutput = 'pg_catalog.xml_out'::regproc AS xml,
           pg_get_expr(d.adbin, d.adrelid) AS def, a.attidentity AS identity, a.attgenerated AS generated, t.typtype,
           CASE WHEN a.attcollation <> t.typcollation THEN (SELECT format('%I.%I', cn.nspname, co.collname) FROM pg_collation co
                JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END AS collation
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, [rel.oid]);
  const columns: ColumnDef[] = cols.rows.map((c) => {
    if (c.typtype === 'd' || c.typtype === 'c') unmapped.push({ table: label, column: c.name, what: `type ${c.type}`, reason: 'domains and composite types are not created by cutover schema: create the type on the target first' });
    return {
      name: c.name,
      type: c.type,
      sourceType: c.type,
      notNull: c.notnull,
      default: c.generated ? null : c.def,
      identity: c.identity === 'a' ? 'always' : c.identity === 'd' ? 'by default' : null,
      generated: c.generated === 's' ? c.def : null,
      collation: c.collation,
      ...(c.xml ? { storedText: true } : {}),
    };
  });
  const cons = await db.query<{ name: string; type: string; def: string; cols: string[] | null; ref_schema: string | null; ref_table: string | null; ref_cols: string[] | null; del: string; upd: string }>(`
    SELECT c.conname AS name, c.contype AS type, pg_get_constraintdef(c.oid, true) AS def,
           (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY k(n, ord) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS cols,
           rn.nspname AS ref_schema, rc.relname AS ref_table,
           (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY k(n, ord) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS ref_cols,
           c.confdeltype AS del, c.confupdtype AS upd
      FROM pg_constraint c LEFT JOIN pg_class rc ON rc.oid = c.confrelid LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
     WHERE c.conrelid = $1 ORDER BY c.conname`, [rel.oid]);
  const action = (a: string) => ({ a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' })[a] ?? 'NO ACTION';
  const key = cons.rows.find((c) => c.type === 'p')?.cols ?? [];
  const uniques = cons.rows.filter((c) => c.type === 'u' && !/ WHERE | INCLUDE /.test(c.def)).map((c) => ({ name: c.name, columns: c.cols ?? [] }));
  const checks = cons.rows.filter((c) => c.type === 'c').map((c) => ({ name: c.name, expr: c.def.replace(/^CHECK /, '').replace(/ NOT VALID$/, '') }));
  for (const c of cons.rows.filter((x) => x.type === 'x')) unmapped.push({ table: label, what: `exclusion constraint ${c.name}`, reason: 'not created by cutover schema' });
  const foreignKeys = cons.rows.filter((c) => c.type === 'f').map((c) => ({
    name: c.name, columns: c.cols ?? [], refSchema: c.ref_schema!, refTable: c.ref_table!, refColumns: c.ref_cols ?? [], onDelete: action(c.del), onUpdate: action(c.upd),
  }));
  const idx = await db.query<{ name: string; def: string }>(`
    SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
     WHERE i.indrelid = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid) ORDER BY 1`, [rel.oid]);
  const indexes = idx.rows.map((i) => ({ name: i.name, sql: i.def.replace(/^CREATE (UNIQUE )?INDEX /, (m) => `${m}IF NOT EXISTS `) }));
  return { schema: rel.schema, name: rel.name, columns, key, uniques, checks, foreignKeys, indexes };
}
