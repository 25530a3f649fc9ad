// The shape of the pg_catalog relations psql's describe commands read, as
// tables of the attached in-memory pg_catalog (catalog.ts). Declared types
// make the results carry PostgreSQL's types (BOOLEAN columns print t/f, as
// psql's checks expect). Those SQLite has nothing for (policies, publications,
// extended statistics, inheritance …) stay empty, so psql's queries find no
// rows rather than an error. Arrays are held in PostgreSQL's text form ({a,b}).

/** Columns of each relation, in PostgreSQL's order (the ones clients read; `SELECT *` gives these). */
export const CATALOG_TABLES: Record<string, string> = {
  pg_class: `oid OID PRIMARY KEY, relname NAME, relnamespace OID, reltype OID, reloftype OID, relowner OID, relam OID,
    relfilenode OID, reltablespace OID, relpages INT4, reltuples FLOAT4, relallvisible INT4, reltoastrelid OID,
    relhasindex BOOLEAN, relisshared BOOLEAN, relpersistence CHAR, relkind CHAR, relnatts SMALLINT, relchecks SMALLINT,
    relhasrules BOOLEAN, relhastriggers BOOLEAN, relhassubclass BOOLEAN, relrowsecurity BOOLEAN, relforcerowsecurity BOOLEAN,
    relispopulated BOOLEAN, relreplident CHAR, relispartition BOOLEAN, relrewrite OID, relacl TEXT, reloptions TEXT, relpartbound TEXT`,
  pg_attribute: `attrelid OID, attname NAME, atttypid OID, attstattarget INT4, attlen SMALLINT, attnum SMALLINT, attndims INT4,
    atttypmod INT4, attbyval BOOLEAN, attalign CHAR, attstorage CHAR, attcompression CHAR, attnotnull BOOLEAN, atthasdef BOOLEAN,
    atthasmissing BOOLEAN, attidentity CHAR, attgenerated CHAR, attisdropped BOOLEAN, attislocal BOOLEAN, attinhcount INT4,
    attcollation OID, attacl TEXT, attoptions TEXT, PRIMARY KEY (attrelid, attnum)`,
  pg_attrdef: 'oid OID PRIMARY KEY, adrelid OID, adnum SMALLINT, adbin TEXT',
  pg_index: `indexrelid OID PRIMARY KEY, indrelid OID, indnatts SMALLINT, indnkeyatts SMALLINT, indisunique BOOLEAN,
    indnullsnotdistinct BOOLEAN, indisprimary BOOLEAN, indisexclusion BOOLEAN, indimmediate BOOLEAN, indisclustered BOOLEAN,
    indisvalid BOOLEAN, indcheckxmin BOOLEAN, indisready BOOLEAN, indislive BOOLEAN, indisreplident BOOLEAN, indkey TEXT,
    indcollation TEXT, indclass TEXT, indoption TEXT, indexprs TEXT, indpred TEXT`,
  pg_constraint: `oid OID PRIMARY KEY, conname NAME, connamespace OID, contype CHAR, condeferrable BOOLEAN, condeferred BOOLEAN,
    convalidated BOOLEAN, conrelid OID, contypid OID, conindid OID, conparentid OID, confrelid OID, confupdtype CHAR,
    confdeltype CHAR, confmatchtype CHAR, conislocal BOOLEAN, coninhcount INT4, connoinherit BOOLEAN, conkey TEXT, confkey TEXT,
    conbin TEXT`,
  pg_trigger: `oid OID PRIMARY KEY, tgrelid OID, tgparentid OID, tgname NAME, tgfoid OID, tgtype SMALLINT, tgenabled CHAR,
    tgisinternal BOOLEAN, tgconstrrelid OID, tgconstrindid OID, tgconstraint OID, tgdeferrable BOOLEAN, tginitdeferred BOOLEAN,
    tgnargs SMALLINT, tgattr TEXT, tgargs BLOB, tgqual TEXT, tgoldtable NAME, tgnewtable NAME`,
  pg_sequence: 'seqrelid OID PRIMARY KEY, seqtypid OID, seqstart INT8, seqincrement INT8, seqmax INT8, seqmin INT8, seqcache INT8, seqcycle BOOLEAN',
  pg_depend: 'classid OID, objid OID, objsubid INT4, refclassid OID, refobjid OID, refobjsubid INT4, deptype CHAR',
  pg_am: 'oid OID PRIMARY KEY, amname NAME, amhandler TEXT, amtype CHAR',
  pg_roles: `rolname NAME, rolsuper BOOLEAN, rolinherit BOOLEAN, rolcreaterole BOOLEAN, rolcreatedb BOOLEAN, rolcanlogin BOOLEAN,
    rolreplication BOOLEAN, rolconnlimit INT4, rolpassword TEXT, rolvaliduntil TIMESTAMPTZ, rolbypassrls BOOLEAN, rolconfig TEXT, oid OID PRIMARY KEY`,
  pg_auth_members: 'roleid OID, member OID, grantor OID, admin_option BOOLEAN',
  pg_database: `oid OID PRIMARY KEY, datname NAME, datdba OID, encoding INT4, datlocprovider CHAR, datistemplate BOOLEAN,
    datallowconn BOOLEAN, datconnlimit INT4, dattablespace OID, datcollate TEXT, datctype TEXT, daticulocale TEXT,
    datcollversion TEXT, datacl TEXT`,
  pg_collation: 'oid OID PRIMARY KEY, collname NAME, collnamespace OID, collowner OID, collprovider CHAR, collisdeterministic BOOLEAN, collencoding INT4, collcollate TEXT, collctype TEXT',
  pg_description: 'objoid OID, classoid OID, objsubid INT4, description TEXT',
  pg_tablespace: 'oid OID PRIMARY KEY, spcname NAME, spcowner OID, spcacl TEXT, spcoptions TEXT',
  pg_policy: 'oid OID PRIMARY KEY, polname NAME, polrelid OID, polcmd CHAR, polpermissive BOOLEAN, polroles TEXT, polqual TEXT, polwithcheck TEXT',
  pg_statistic_ext: 'oid OID PRIMARY KEY, stxrelid OID, stxname NAME, stxnamespace OID, stxowner OID, stxstattarget INT4, stxkeys TEXT, stxkind TEXT, stxexprs TEXT',
  pg_publication: 'oid OID PRIMARY KEY, pubname NAME, pubowner OID, puballtables BOOLEAN, pubinsert BOOLEAN, pubupdate BOOLEAN, pubdelete BOOLEAN, pubtruncate BOOLEAN, pubviaroot BOOLEAN',
  pg_publication_namespace: 'oid OID PRIMARY KEY, pnpubid OID, pnnspid OID',
  pg_publication_rel: 'oid OID PRIMARY KEY, prpubid OID, prrelid OID, prqual TEXT, prattrs TEXT',
  pg_inherits: 'inhrelid OID, inhparent OID, inhseqno INT4, inhdetachpending BOOLEAN',
  pg_partitioned_table: 'partrelid OID PRIMARY KEY, partstrat CHAR, partnatts SMALLINT, partdefid OID, partattrs TEXT, partclass TEXT, partcollation TEXT, partexprs TEXT',
  pg_rewrite: 'oid OID PRIMARY KEY, rulename NAME, ev_class OID, ev_type CHAR, ev_enabled CHAR, is_instead BOOLEAN, ev_qual TEXT, ev_action TEXT',
  pg_foreign_table: 'ftrelid OID PRIMARY KEY, ftserver OID, ftoptions TEXT',
  pg_extension: 'oid OID PRIMARY KEY, extname NAME, extowner OID, extnamespace OID, extrelocatable BOOLEAN, extversion TEXT, extconfig TEXT, extcondition TEXT',
};

/** Rows every catalog has whatever the file holds. */
export const FIXED_ROWS = `
  INSERT INTO pg_catalog.pg_am VALUES (2, 'heap', 'heap_tableam_handler', 't'), (403, 'btree', 'bthandler', 'i');
  INSERT INTO pg_catalog.pg_collation VALUES (100, 'default', 11, 10, 'd', 1, -1, NULL, NULL), (950, 'C', 11, 10, 'c', 1, -1, 'C', 'C'),
    (951, 'POSIX', 11, 10, 'c', 1, -1, 'POSIX', 'POSIX');`;

/** Every relation the catalog has (with pg_type and pg_namespace, catalog.ts), by name. */
export const CATALOG_RELATIONS: ReadonlySet<string> = new Set([...Object.keys(CATALOG_TABLES), 'pg_type', 'pg_namespace', 'pg_user']);

/** CREATE statements for the relations above, in the attached pg_catalog. */
export const catalogDdl = (): string =>
  Object.entries(CATALOG_TABLES).map(([name, cols]) => `CREATE TABLE pg_catalog.${name} (${cols});`).join('\n') +
  // pg_user: psql's \du of older servers and many tools read it; the same roles
  `\nCREATE VIEW pg_catalog.pg_user AS SELECT rolname AS usename, oid AS usesysid, rolcreatedb AS usecreatedb, rolsuper AS usesuper,
    rolreplication AS userepl, rolbypassrls AS usebypassrls, '********' AS passwd, rolvaliduntil AS valuntil, rolconfig AS useconfig FROM pg_catalog.pg_roles;` +
  FIXED_ROWS;
