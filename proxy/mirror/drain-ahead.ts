// Drain-ahead: a transaction's change rows taken by a drain pipelined right
// behind the write expected to be its last, so that the client's COMMIT goes
// to the mirror at once instead of after a drain round trip of its own.
//
// Why: every round trip wakes the session's server process and the proxy, and
// on a loaded machine the wake-ups, not the statements, are what a short
// transaction costs. The COMMIT's drain was one round trip more than the
// client's own; pipelined behind a write (same packet), the server runs it
// straight after answering the write.
//
// Which write is the last is learned per statement shape (Classification.id):
// at each mirrored COMMIT the transaction's last write scores +1, its other
// writes -1, and a write with a positive score takes a drain behind it.
// Applications repeat a few transaction shapes, so the guess is soon right; a
// wrong one costs a drain that finds the rest later (no round trip), or the
// round trip as before.
//
// Correctness does not rest on the guess: COMMIT drains again unless only
// reads ran since the last drain-ahead. Drained rows are gone from the change
// table, so a request whose handling does not know of them (savepoints, split
// requests, COPY, function calls, mirroring switched off) first gets them put
// back (same transaction, same order), and ends drain-ahead for the
// transaction: a ROLLBACK TO SAVEPOINT could undo the drain itself. ROLLBACK
// drops them with everything else.
import type { Change } from './apply.ts';
import type { Message } from '../framing.ts';

/** The changes of a drain's answer (drain-statement.ts), in capture order. */
export function changesOf(taken: Change[]): Change[] {
  return taken.sort((a, b) => a.seq - b.seq);
}

/** Per statement shape: is it usually its transaction's last write? Shared by all sessions. */
export class LastWrites {
  private readonly score = new Map<number, number>();

  constructor(private readonly max = 10_000) {}

  isLast(id: number): boolean {
    return (this.score.get(id) ?? 0) > 0;
  }

  /** A transaction committed with these writes, in order. */
  learn(writes: readonly number[]): void {
    const last = writes[writes.length - 1];
    if (last === undefined) return;
    for (const w of new Set(writes)) if (w !== last) this.bump(w, -1);
    this.bump(last, 1);
  }

  private bump(id: number, by: number): void {
    // bounded both ways: one odd transaction does not undo a habit, two do
    const v = Math.max(-2, Math.min(2, (this.score.get(id) ?? 0) + by));
    if (!this.score.has(id) && this.score.size >= this.max) this.score.delete(this.score.keys().next().value as number);
    this.score.set(id, v);
  }
}

export const lastWrites = new LastWrites();

const MAX_WRITES = 64;

/** One session's drain-ahead state for its open transaction. */
export class DrainAhead {
  /** Rows drained ahead, in capture order, not applied yet. */
  changes: Change[] = [];
  /** Only reads ran since the last drain-ahead went out: the COMMIT needs no drain of its own. */
  clean = false;
  /** A drain-ahead failed for a reason of its own (the server's error): the transaction is aborted on the source. */
  brokenBy: Message | null = null;
  /** No more drain-ahead in this transaction (a savepoint, a request that needed the rows back, a bulk transaction). */
  off = false;
  /** Bumped at every transaction end: a drain answered after it belongs to no transaction. */
  generation = 0;
  /** Shapes of the transaction's writes, in order (the last ones, if it had many). */
  private writes: number[] = [];
  private pending: Promise<void>[] = [];

  get broken(): boolean {
    return this.brokenBy !== null;
  }

  get idle(): boolean {
    return !this.changes.length && !this.pending.length && !this.clean && !this.broken && !this.off && !this.writes.length;
  }

  noteWrite(id: number): void {
    if (this.writes.length >= MAX_WRITES) this.writes.shift();
    this.writes.push(id);
  }

  /** A drain-ahead on the wire: its rows join `changes` when `taken` resolves. */
  track(taken: Promise<void>): void {
    this.clean = true;
    this.pending.push(taken);
  }

  /** Every drain-ahead sent so far has been answered and taken. */
  async settled(): Promise<void> {
    while (this.pending.length) await Promise.all(this.pending.splice(0));
  }

  /** The transaction ended: what it learned, and its state cleared. */
  end(committed: boolean): void {
    if (committed) lastWrites.learn(this.writes);
    this.generation++;
    this.changes = [];
    this.clean = false;
    this.brokenBy = null;
    this.off = false;
    this.writes = [];
    this.pending = [];
  }
}
