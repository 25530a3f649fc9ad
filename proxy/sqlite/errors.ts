// SQLite errors → PostgreSQL SQLSTATEs and messages, and the engine's own errors.
import type { ErrorObject } from '../messages.ts';

/** An error to send as ErrorResponse: SQLSTATE, message, optional detail, hint and object. */
export class PgError extends Error {
  constructor(readonly code: string, message: string, readonly detail?: string, readonly hint?: string, readonly fields?: ErrorObject) {
    super(message);
  }
}

export const unsupported = (what: string, hint?: string): PgError =>
  new PgError('0A000', `${what} is not supported by the SQLite source`, undefined, hint);

/** Refused at translation (COMMIT/ROLLBACK PREPARED) and when run (PREPARE TRANSACTION, which also ends the block). */
export const TWO_PHASE = 'two-phase commit (PREPARE TRANSACTION / COMMIT PREPARED)';

export const lockTimeout = (ms: number): PgError =>
  new PgError('55P03', 'canceling statement due to lock timeout', `another session held the SQLite write lock for more than ${ms} ms`);

export const inFailedTransaction = (): PgError =>
  new PgError('25P02', 'current transaction is aborted, commands ignored until end of transaction block');

/**
 * A statement nested deeper than the translator's call stack: PostgreSQL's own
 * answer when its parser or planner runs out of stack (54001), not an internal error.
 */
export function stackDepthError(e: unknown): PgError | null {
  if (!(e instanceof RangeError) || !/call stack/i.test(e.message)) return null;
  return new PgError('54001', 'stack depth limit exceeded', undefined, 'The statement is nested too deeply for the SQLite source to translate.');
}

interface SqliteErrorLike {
  code?: string;
  message: string;
}

const BY_CODE: Record<string, string> = {
  SQLITE_CONSTRAINT_UNIQUE: '23505',
  SQLITE_CONSTRAINT_PRIMARYKEY: '23505',
  SQLITE_CONSTRAINT_ROWID: '23505',
  SQLITE_CONSTRAINT_NOTNULL: '23502',
  SQLITE_CONSTRAINT_FOREIGNKEY: '23503',
  SQLITE_CONSTRAINT_CHECK: '23514',
  SQLITE_CONSTRAINT_TRIGGER: 'P0001',
  SQLITE_CONSTRAINT: '23000',
  SQLITE_BUSY_SNAPSHOT: '40001',
  SQLITE_BUSY: '40001',
  SQLITE_BUSY_RECOVERY: '40001',
  SQLITE_LOCKED: '55P03',
  SQLITE_LOCKED_SHAREDCACHE: '55P03',
  SQLITE_MISMATCH: '42804',
  SQLITE_TOOBIG: '54000',
  SQLITE_READONLY: '25006',
  SQLITE_FULL: '53100',
  SQLITE_RANGE: '08P01',
  SQLITE_INTERRUPT: '57014',
};

/** What PostgreSQL would say: SQLSTATE by SQLite's extended code, refined by message for SQLITE_ERROR. */
export function fromSqlite(e: unknown): PgError {
  if (e instanceof PgError) return e;
  const err = e as SqliteErrorLike;
  const msg = err.message ?? String(e);
  const code = err.code ?? '';
  let m: RegExpMatchArray | null;
  switch (BY_CODE[code]) {
    case '23505':
      return new PgError('23505', `duplicate key value violates unique constraint`, msg);
    case '23502':
      m = msg.match(/NOT NULL constraint failed: (?:\w+\.)?(\w+)/);
      return new PgError('23502', `null value in column "${m?.[1] ?? '?'}" violates not-null constraint`, msg);
    case '23503':
      return new PgError('23503', 'insert or update violates foreign key constraint', msg);
    case '23514':
      return new PgError('23514', 'new row violates check constraint', msg);
    case '40001':
      return new PgError('40001', 'could not serialize access due to concurrent update', msg);
    case undefined:
      break;
    default:
      return new PgError(BY_CODE[code]!, msg);
  }
  if ((m = msg.match(/^no such table: (.*)$/))) return new PgError('42P01', `relation "${m[1]}" does not exist`);
  // only DROP INDEX and DROP VIEW name what is missing so
  if ((m = msg.match(/^no such index: (.*)$/))) return new PgError('42704', `index "${m[1]}" does not exist`);
  if ((m = msg.match(/^no such view: (.*)$/))) return new PgError('42P01', `view "${m[1]}" does not exist`);
  if ((m = msg.match(/^no such column: (.*)$/))) return new PgError('42703', `column "${m[1]}" does not exist`);
  if ((m = msg.match(/^no such function: (.*)$/))) return new PgError('42883', `function ${m[1]} does not exist`);
  if ((m = msg.match(/^(?:table|index|view|trigger) (.*) already exists$/))) return new PgError('42P07', `relation ${m[1]} already exists`);
  if (/syntax error|incomplete input|unrecognized token/.test(msg)) return new PgError('42601', msg);
  if (/ambiguous column name/.test(msg)) return new PgError('42702', msg);
  if (/datatype mismatch/.test(msg)) return new PgError('42804', msg);
  if (/misuse of aggregate|aggregate functions are not allowed/.test(msg)) return new PgError('42803', msg);
  // sum() of integers past 64 bits: PostgreSQL sums into numeric; SQLite stops, as int8 arithmetic would
  if (/^integer overflow$/.test(msg)) return new PgError('22003', 'bigint out of range', msg);
  if (code.startsWith('SQLITE_ERROR') || code === '') return new PgError('42000', msg);
  return new PgError('XX000', `${msg} (${code})`);
}
