// PostgreSQL's default constraint names (t_pkey, t_a_b_key, t_a_fkey,
// t_a_check), cut to 63 bytes. The schema copy creates the new database's
// constraints under these names, and the SQLite source names them the same
// way in its errors, so an application sees one name before and after the
// promote.

const cut = (s: string): string => s.slice(0, 63);

export const primaryKeyName = (table: string): string => cut(`${table}_pkey`);

export const uniqueName = (table: string, columns: string[]): string => cut(`${table}_${columns.join('_')}_key`);

export const foreignKeyName = (table: string, columns: string[]): string => cut(`${table}_${columns.join('_')}_fkey`);

/** An unnamed CHECK: of a column (`t_a_check`) or of the table (`t_check`); `nth` counts the table's earlier checks. */
export const checkName = (table: string, column: string | undefined, nth: number): string =>
  cut(`${table}_${column ? column + '_' : ''}check${nth ? nth : ''}`);
