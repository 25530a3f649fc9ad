// What the message relay needs to know about the source's change capture: how
// to take a transaction's change rows before its COMMIT, and how to record
// keys the mirror may have wrong. One object per source kind (pg-capture.ts,
// sqlite-capture.ts), so the relay itself stays the same for both.

import type { Change } from '../mirror/apply.ts';

/** A key the mirror may have wrong: its table and the jsonb text of its key columns. */
export interface DirtyKey {
  tbl: string;
  pk: string;
}

export interface CaptureDialect {
  /** A query on the source, inside the transaction: its change rows as (seq, tbl, op, pk, row), removed. */
  drainSql: string;
  /**
   * drainSql with its text columns (tbl, pk, row) as the hex of their UTF-8 bytes, for a session whose
   * client_encoding is not UTF-8: the server converts text to the client's encoding, which fails for a character
   * it lacks.
   */
  drainSqlUtf8?: string;
  /** The source takes the drain as a named prepared statement (extended protocol), planned once per connection. */
  preparedDrain?: boolean;
  /**
   * Statements sent around a drain so that the session's timeouts do not
   * count the proxy's work: the client's statement_timeout is for its own
   * statements, and PostgreSQL commits a transaction whose statements each
   * finished in time. `commit`: ahead of a drain that only the COMMIT
   * follows, or of the mirror apply of rows drained ahead (the settings may
   * stay lifted, statement_timeout and idle_in_transaction_session_timeout:
   * the source sits idle in the transaction while the mirror applies);
   * `ahead`: around a drain ahead, more of the client's statements to come
   * (statement_timeout is lifted, then put back). Under SERIALIZABLE they
   * also plan the drain to read only its own rows (pg-capture.ts,
   * OWN_ROWS_ONLY). Each one statement that returns no row. Unset: the drain
   * runs under the session's settings.
   */
  untimed?: { commit: string; ahead: [string, string] };
  /** A statement on the source recording these keys for re-sync by the drainer. */
  dirtySql(keys: DirtyKey[]): string;
  /**
   * The same as a transaction of its own at READ COMMITTED, for a session
   * outside a transaction: under a SERIALIZABLE session default the insert
   * could itself meet a serialization failure (the drains' SIREAD locks on the
   * change table).
   */
  dirtySqlAlone?(keys: DirtyKey[]): string;
  /**
   * The drain hands over at most this many rows plus one: a transaction
   * that changed more is not applied before its COMMIT (its rows would sit
   * in the proxy's memory, a few hundred bytes each, and go to the mirror as
   * one statement); its keys are left to the drainer, as after a failed
   * apply. Unset: no limit (the drain takes every row).
   */
  drainLimit?: number;
  /**
   * A statement on the source, inside the transaction, putting drained rows
   * back into the change table in their order (drain-ahead.ts). Unset: the
   * relay never drains ahead.
   */
  restoreSql?(changes: Change[]): string;
}

/** Change rows one drain takes at most (plus one, to tell "more" from "exactly that many"). */
export const DRAIN_LIMIT = 10_000;
