// Tests compare databases with the same table hashing the demo uses.
export { compareDatabases, type TableDiff } from '../../backfill/table-hash.ts';
