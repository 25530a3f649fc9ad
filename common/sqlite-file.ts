// Opening an SQLite database file named by an operator's URL.
import Database from 'better-sqlite3';
import { nameDatabaseError } from './errors.ts';
import { databaseLabel } from './urls.ts';

/** better-sqlite3's Database, whose open errors say which database and file: its own "unable to open database file" names neither. */
export function openSqliteFile(file: string, options: Database.Options = {}): Database.Database {
  try {
    return new Database(file, options);
  } catch (e) {
    throw nameDatabaseError(e, `cannot open the ${databaseLabel({ kind: 'sqlite', url: '', path: file })}`);
  }
}

/**
 * The state file (--state) opened and set up by `setup` (its first statements are where a file that is
 * no database fails): errors say which file, where better-sqlite3's "unable to open database file" did not.
 */
export function openStateFile(file: string, setup: (db: Database.Database) => void = () => undefined): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(file);
    setup(db);
    return db;
  } catch (e) {
    db?.close();
    throw nameDatabaseError(e, `--state ${file}: cannot open the state file`);
  }
}
