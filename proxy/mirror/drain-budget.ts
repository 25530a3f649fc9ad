// Large drained rows in the proxy's memory: kept as the bytes they arrived in,
// and held to one budget across every session's drain and the background
// drainer's reads (drain-statement.ts, large-rows.ts).
import { Collect } from '../backend-link.ts';

/**
 * Past this many bytes a drained row is kept as the bytes it came in (a view
 * of the DataRow), never made a string: the mirror's Bind carries the same
 * bytes (apply.ts), and each conversion was a copy of the whole row (two
 * bytes a character for text past Latin-1), three for one 50 MB bytea.
 */
export const ROW_AS_BYTES = 64 * 1024;

/** A row's JSON field of `len` bytes at `at` in the DataRow `b`: a view past ROW_AS_BYTES, else its text. */
export function rowValue(b: Buffer, at: number, len: number): string | Buffer {
  return len >= ROW_AS_BYTES ? b.subarray(at, at + len) : b.toString('utf8', at, at + len);
}

/**
 * Bytes of large drained rows the proxy holds at once, from their arrival to
 * the end of their apply (release): sessions' drains and the drainer's reads
 * alike. Eight sessions each committing a 50 MB bytea held eight 100 MB
 * answers together, about 1 GB; past the budget a reader's source connection
 * is read no further until another's apply has ended. One already holding
 * some is never held back (its own next row would wait on itself), nor one
 * when nothing is held, so a row larger than the budget still goes.
 */
export class DrainBudget {
  private used = 0;
  private waiting: (() => void)[] = [];

  constructor(public limit: number) {}

  /** Bytes taken and not given back. */
  get taken(): number {
    return this.used;
  }

  /** Readers waiting for bytes. */
  get waiters(): number {
    return this.waiting.length;
  }

  /** Takes `bytes` now (true), or calls `granted` once they have been taken. */
  take(bytes: number, holding: boolean, granted: () => void): boolean {
    if (holding || this.used === 0 || this.used + bytes <= this.limit) {
      this.used += bytes;
      return true;
    }
    this.waiting.push(() => {
      if (!this.take(bytes, false, granted)) return;
      granted();
    });
    return false;
  }

  give(bytes: number): void {
    this.used -= bytes;
    // each waiter tries again, in order; one that does not fit queues itself again
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w();
  }
}

export const drainBudget = new DrainBudget(256 << 20);

/** An answer whose large messages are held to drainBudget until release(). */
export class BudgetedCollect extends Collect {
  /** Bytes of drainBudget this answer holds. */
  private held = 0;
  private released = false;

  /** `budgeted`: its rows are applied as soon as they are in (not a drain-ahead, held until the client commits). */
  constructor(private readonly budgeted = true) {
    super();
  }

  large(bytes: number, resume: () => void): boolean {
    if (!this.budgeted || this.released) return true;
    const now = drainBudget.take(bytes, this.held > 0, () => {
      if (this.released) drainBudget.give(bytes);
      else this.held += bytes;
      resume();
    });
    if (now) this.held += bytes;
    return now;
  }

  /** Its rows are applied (or never will be): what it holds of drainBudget goes back. */
  release(): void {
    this.released = true;
    if (this.held) drainBudget.give(this.held);
    this.held = 0;
  }

  override onLost(reason: Error): void {
    this.release();
    super.onLost(reason);
  }
}
