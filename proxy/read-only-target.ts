// The connections reads are routed on run every transaction READ ONLY. The
// classifier sees a statement's text, not what it reaches: a SELECT from a
// view whose definition calls a function that inserts is a read by its text,
// and routed, it wrote on the target alone (a row the source never had,
// acknowledged to the client). PostgreSQL itself refuses any such write in a
// read-only transaction (25006), and the read is then run on the source,
// where the write belongs. A session's own SETs are replayed on these
// connections, so whatever can undo the default is followed by it again.
import { queryMessage } from './messages.ts';

/** Sent after a read connection's replays, and after each replayed setting that could turn it off. */
export const READ_ONLY_DEFAULT = queryMessage('SET default_transaction_read_only = on');

/** Sent when the read connection becomes the session's source connection (promote): the session's default again. */
export const READ_WRITE_DEFAULT = queryMessage('RESET default_transaction_read_only');

/** read_only_sql_transaction: a write the statement's text did not show. */
export const HIDDEN_WRITE = '25006';

/** Whether replaying a setting (classify.ts StatementInfo.setting) may change default_transaction_read_only. */
export function touchesReadOnly(setting: string | undefined): boolean {
  return setting === '*' || setting === 'default_transaction_read_only' || Boolean(setting?.startsWith('session characteristics'));
}
