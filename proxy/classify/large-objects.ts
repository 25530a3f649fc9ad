// Large objects live in pg_largeobject, outside every table: no capture
// trigger sees their writes, and the backfill does not copy them (cutover
// check reports them as an error). Written through the proxy while it
// mirrors, they would land on the source alone and be left behind at
// promote, with the client told nothing. So their writers are refused then,
// by SQL (SELECT lo_creat(-1)) and by FunctionCall (libpq's lo_* API:
// psycopg2's lobject, JDBC's LargeObjectManager).

/** The functions that create, change or remove a large object (reading ones, lo_open and lo_export write nothing here). */
const WRITERS = new Set(['lo_creat', 'lo_create', 'lo_import', 'lo_from_bytea', 'lo_put', 'lowrite', 'lo_truncate', 'lo_truncate64', 'lo_unlink']);

/**
 * Their built-in OIDs (pg_proc.dat: fixed across releases), which a
 * FunctionCall names instead: libpq looks these same functions up in
 * pg_catalog by name and calls them by number.
 */
const WRITER_OIDS = new Set([715, 764, 767, 955, 957, 964, 1004, 3172, 3457, 3460]);

export const LARGE_OBJECTS_REFUSED = 'large objects are not mirrored: writing them is refused while a migration is mirroring writes';
export const LARGE_OBJECTS_HINT = 'keep the data in a bytea column instead (large objects are left behind at promote)';

/** A function name as a FuncCall spells it (`lo_unlink`, `pg_catalog.lo_unlink`). */
export function writesLargeObject(name: string): boolean {
  const bare = name.startsWith('pg_catalog.') ? name.slice('pg_catalog.'.length) : name;
  return WRITERS.has(bare.toLowerCase());
}

/** A FunctionCall message's function: the body starts with its OID. */
export function callsLargeObjectWriter(functionCall: Buffer): boolean {
  return functionCall.length >= 9 && WRITER_OIDS.has(functionCall.readUInt32BE(5));
}
