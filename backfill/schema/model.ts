// The target schema as Cutover plans it, whatever the source: what goes in
// before the copy (tables with keys, NOT NULL, DEFAULT, UNIQUE, CHECK) and what
// goes in after it (foreign keys NOT VALID then VALIDATE, secondary indexes),
// so history can arrive in any order. Types are PostgreSQL type names.

export interface ColumnDef {
  name: string;
  /** PostgreSQL type, e.g. bigint, double precision, varchar(40). */
  type: string;
  /** The source's declared type, for messages. */
  sourceType: string;
  notNull: boolean;
  /** SQLite sources: whether the source itself can never hold NULL here (notNull also covers the target's key). */
  sourceNotNull?: boolean;
  /** PostgreSQL default expression, or null. */
  default: string | null;
  identity: 'always' | 'by default' | null;
  /** Generated columns are created but never copied. */
  generated: string | null;
  /** A collation other than the type's default (PostgreSQL sources), qualified and quoted: "pg_catalog"."en-x-icu". */
  collation?: string | null;
  /**
   * xml (a domain over it too): its output function, which a COPY's text is, rewrites the XML declaration
   * ('<?xml version="1.0"?><r/>' comes out as '<r/>'), so it is copied as the text it is stored as (::text).
   */
  storedText?: boolean;
}

export interface ForeignKeyDef {
  name: string;
  columns: string[];
  refSchema: string;
  refTable: string;
  refColumns: string[];
  onDelete: string;
  onUpdate: string;
}

export interface TableDef {
  schema: string;
  name: string;
  columns: ColumnDef[];
  /** Primary-key columns in key order; empty when the source has none. */
  key: string[];
  uniques: { name: string; columns: string[] }[];
  checks: { name: string; expr: string }[];
  foreignKeys: ForeignKeyDef[];
  /** Complete CREATE INDEX statements for the target (secondary indexes). */
  indexes: { name: string; sql: string }[];
}

/** Something the source has that the target schema does not carry over as-is. */
export interface Unmapped {
  table: string;
  column?: string;
  what: string;
  reason: string;
}

export interface SchemaPlan {
  /** CREATE SCHEMA / TYPE / SEQUENCE statements the tables need. */
  prelude: string[];
  tables: TableDef[];
  /** Statements run after the tables exist (sequence ownership). */
  postTables: string[];
  unmapped: Unmapped[];
}

export const qi = (id: string) => '"' + id.replace(/"/g, '""') + '"';
export const ql = (s: string) => "'" + s.replace(/'/g, "''") + "'";
export const qualifiedName = (t: { schema: string; name: string }) => `${qi(t.schema)}.${qi(t.name)}`;
export const tableLabel = (t: { schema: string; name: string }) => (t.schema === 'public' ? t.name : `${t.schema}.${t.name}`);

/** Columns that carry data (generated ones are computed by the target). */
export const copiedColumns = (t: TableDef) => t.columns.filter((c) => !c.generated);

/** The select list a COPY of the copied columns reads (ColumnDef.storedText). */
export const copiedSelectList = (t: TableDef) => copiedColumns(t).map((c) => (c.storedText ? `${qi(c.name)}::text` : qi(c.name))).join(', ');
