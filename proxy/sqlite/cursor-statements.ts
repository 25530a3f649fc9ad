// SQL cursors (DECLARE … CURSOR FOR, FETCH, MOVE, CLOSE) as psql's FETCH_COUNT
// and server-side paging use them: forward only, within a transaction block.
// The query runs whole at DECLARE (as a portal's does here): its rows are the
// snapshot DECLARE sees, as PostgreSQL's cursor is, and FETCH hands them out.
import type { SqlStatement } from './translate.ts';
import { PgError, unsupported } from './errors.ts';

type AnyNode = Record<string, any>;

export interface DeclareStatement {
  kind: 'declare';
  name: string;
  query: SqlStatement;
  tag: 'DECLARE CURSOR';
}

export interface FetchStatement {
  kind: 'fetch';
  name: string;
  /** Rows to hand out; Infinity for ALL. */
  count: number;
  /** MOVE: skip the rows, answer with their number only. */
  move: boolean;
}

export interface CloseStatement {
  kind: 'close';
  /** null: CLOSE ALL. */
  name: string | null;
  tag: string;
}

export type CursorStatement = DeclareStatement | FetchStatement | CloseStatement;

// parsenodes.h CURSOR_OPT_*: what a cursor read whole and handed out forward cannot honour
const CURSOR_OPT_BINARY = 0x1;
const CURSOR_OPT_SCROLL = 0x2;
const CURSOR_OPT_HOLD = 0x20;
/** FETCH ALL / FORWARD ALL: the parser's FETCH_ALL (LONG_MAX, as the 32-bit build of libpg-query gives it). */
const FETCH_ALL = 2147483647;

export function declareCursor(n: AnyNode, translateQuery: (query: AnyNode) => unknown): DeclareStatement {
  const options = Number(n.options ?? 0);
  if (options & CURSOR_OPT_HOLD) throw unsupported('DECLARE … CURSOR WITH HOLD', 'declare it WITHOUT HOLD and fetch inside the transaction');
  if (options & CURSOR_OPT_SCROLL) throw unsupported('DECLARE … SCROLL CURSOR', 'cursors here move forward only (NO SCROLL)');
  if (options & CURSOR_OPT_BINARY) throw unsupported('DECLARE BINARY CURSOR');
  const query = translateQuery(n.query);
  if ((query as { kind?: string }).kind !== 'sql' || (query as SqlStatement).tag !== 'SELECT') throw unsupported('a cursor over anything but a SELECT');
  return { kind: 'declare', name: String(n.portalname), query: query as SqlStatement, tag: 'DECLARE CURSOR' };
}

export function fetchCursor(n: AnyNode): FetchStatement {
  const move = n.ismove === true;
  const what = move ? 'MOVE' : 'FETCH';
  if (n.direction !== 'FETCH_FORWARD') throw unsupported(`${what} ${String(n.direction).replace('FETCH_', '')}`, 'cursors here move forward only');
  const howMany = Number(n.howMany ?? 0);
  // FETCH 0 (RELATIVE 0) re-reads the current row, which a forward-only cursor here does not keep
  if (howMany <= 0) throw unsupported(`${what} 0 or backward`, 'cursors here move forward only');
  return { kind: 'fetch', name: String(n.portalname), count: howMany >= FETCH_ALL ? Infinity : howMany, move };
}

export function closeCursor(n: AnyNode): CloseStatement {
  return n.portalname ? { kind: 'close', name: String(n.portalname), tag: 'CLOSE CURSOR' } : { kind: 'close', name: null, tag: 'CLOSE CURSOR ALL' };
}

export const noSuchCursor = (name: string): PgError => new PgError('34000', `cursor "${name}" does not exist`);
