// Cuts a request that mixes transaction control with other statements into
// pieces the relay runs one by one (relay.ts runSplit), so that the mirror's
// drain-and-apply can go right before every COMMIT and the proxy's own
// transaction can stand in for the server's implicit one. Pure: no I/O.
import type { Classification, Kind, TxnOp } from './classify/classify.ts';
import { BodyReader, type Message } from './framing.ts';
import { queryMessage } from './messages.ts';

const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);

export interface Piece {
  /** One Query, or extended messages ending in Sync. */
  bytes: Buffer[];
  /** The piece is exactly one transaction-control statement. */
  txn: TxnOp | null;
  /** It holds a schema change. */
  ddl: boolean;
  /** What makes it one is a large-object write (classify.ts): refused with its own message. */
  largeObjects?: true;
  /** Prepared statements it parses (extended protocol). */
  parses: string[];
  /** Prepared statements it binds without parsing them first. */
  binds: string[];
  /** It ends a segment a Flush already sent: it must not be preceded by anything. */
  continues?: boolean;
}

/** The Sync that ends a segment a Flush already sent, as the first piece of the rest. */
export const SYNC_PIECE: Piece = { bytes: [SYNC], txn: null, ddl: false, parses: [], binds: [], continues: true };

/**
 * Split only where it changes something: several statements with transaction
 * control among them that may commit a write (one begun earlier, or one of
 * theirs), or PREPARE TRANSACTION (refused while mirroring). COPY needs its
 * CopyData to flow, so it is left whole.
 */
export function needsSplit(c: Classification, inTransaction: boolean): boolean {
  // (a COPY that only sends rows out answers in its piece like any read)
  if (c.error || c.statements.some((s) => s.node === 'CopyStmt' && s.kind !== 'read')) return false;
  if (c.statements.some((s) => s.txn === 'prepare')) return true;
  if (c.statements.length < 2 || !c.statements.some((s) => s.txn)) return false;
  return inTransaction || c.statements.some((s) => WRITES.has(s.kind));
}

/** What may change rows (unknown: the parser could not tell). */
export const WRITES = new Set<Kind>(['write', 'unknown', 'ddl']);

/**
 * A simple Query's statements: each transaction-control statement alone, the
 * runs between them together. A piece keeps the original text from its first
 * statement's start, padded with spaces before it, so an error's position
 * still points into the string the client sent.
 */
export function simplePieces(sql: string, c: Classification, latin1 = false): Piece[] {
  const out: Piece[] = [];
  let run: { from: number; to: number; ddl: boolean; largeObjects: boolean } | null = null;
  const piece = (from: number, to: number, txn: TxnOp | null, ddl: boolean, largeObjects = false): Piece => ({
    // PostgreSQL counts an error's position in characters: one space per code point before the piece
    bytes: [queryMessage(' '.repeat(codePoints(sql.slice(0, from))) + sql.slice(from, to), latin1)],
    txn,
    ddl,
    ...(largeObjects ? { largeObjects } : {}),
    parses: [],
    binds: [],
  });
  for (const s of c.statements) {
    const end = s.at + s.text.length;
    if (s.txn) {
      if (run) out.push(piece(run.from, run.to, null, run.ddl, run.largeObjects));
      run = null;
      out.push(piece(s.at, end, s.txn, false));
    } else if (run) {
      run.to = end;
      run.ddl ||= s.kind === 'ddl';
      run.largeObjects ||= Boolean(s.largeObjects);
    } else run = { from: s.at, to: end, ddl: s.kind === 'ddl', largeObjects: Boolean(s.largeObjects) };
  }
  if (run) out.push(piece(run.from, run.to, null, run.ddl, run.largeObjects));
  return out;
}

/** Characters as PostgreSQL counts them (a character outside the BMP is two UTF-16 units, one character). */
function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff || i + 1 >= s.length) n++;
  }
  return n;
}

/** What the relay knows of one Execute: the transaction op its statement is, if any. */
export interface ExecuteInfo {
  txn: TxnOp | null;
  kind: Kind;
  largeObjects?: true;
}

/**
 * An extended segment (its messages up to, not including, the Sync) cut after
 * every Execute, each piece closed with a Sync of its own. Messages after the
 * last Execute (Close …) go with the last piece.
 */
export function extendedPieces(msgs: Message[], infoOf: (execute: Message) => ExecuteInfo): Piece[] {
  const out: Piece[] = [];
  let cur: Piece = { bytes: [], txn: null, ddl: false, parses: [], binds: [] };
  for (const m of msgs) {
    cur.bytes.push(m.bytes);
    if (m.type === 0x50) cur.parses.push(new BodyReader(m.bytes).cstring());
    if (m.type === 0x42) {
      const r = new BodyReader(m.bytes);
      r.cstring();
      const stmt = r.cstring();
      if (!cur.parses.includes(stmt)) cur.binds.push(stmt);
    }
    if (m.type !== 0x45) continue;
    const info = infoOf(m);
    cur.txn = info.txn;
    cur.ddl = info.kind === 'ddl';
    if (info.largeObjects) cur.largeObjects = true;
    out.push(cur);
    cur = { bytes: [], txn: null, ddl: false, parses: [], binds: [] };
  }
  if (cur.bytes.length) {
    const last = out[out.length - 1];
    if (last) {
      last.bytes.push(...cur.bytes);
      last.parses.push(...cur.parses);
      last.binds.push(...cur.binds);
    } else out.push(cur);
  }
  for (const p of out) p.bytes.push(SYNC);
  return out;
}
