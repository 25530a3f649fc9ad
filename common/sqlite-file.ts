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
