// When have the keys just recorded dirty been re-synced? Once every change row
// that existed when the question was asked is gone from the change table: the
// drain that deletes change rows commits only after the mirror did (whichever
// proxy's drainer took them). One poll of the table's bounds answers every
// waiter at once, however many sessions are waiting.

/**
 * The lowest and highest change-row sequence numbers now (nulls for an empty
 * table), or null while keys handed to the drainer are still to be recorded.
 */
export type SeqBounds = () => Promise<{ lo: bigint | null; hi: bigint | null } | null>;

interface Waiter {
  /** The highest change row when the waiter was first polled for; null until then. */
  upTo: bigint | null;
  by: number;
  resolve(): void;
  reject(e: Error): void;
}

export class ResyncWatch {
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly bounds: SeqBounds, private readonly everyMs = 50) {}

  /**
   * Resolves once every change row on the source now (committed before this
   * call, or handed to the drainer to record) has been drained; rejects if that
   * takes longer than `withinMs`.
   */
  drained(withinMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ upTo: null, by: Date.now() + withinMs, resolve, reject });
      this.timer ??= setTimeout(() => void this.poll(), 0);
    });
  }

  private async poll(): Promise<void> {
    // only waiters that asked before this poll's snapshot may take its highest row as theirs
    const fresh = this.waiters.filter((w) => w.upTo === null);
    let b: { lo: bigint | null; hi: bigint | null } | null = null;
    let failure = '';
    try {
      b = await this.bounds();
    } catch (e) {
      failure = `: ${(e as Error).message}`;
    }
    if (b) for (const w of fresh) w.upTo = b.hi ?? 0n;
    const now = Date.now();
    this.waiters = this.waiters.filter((w) => {
      if (b && w.upTo !== null && (b.lo === null || b.lo > w.upTo)) {
        w.resolve();
        return false;
      }
      if (now >= w.by) {
        w.reject(new Error(`dirty keys not re-synced by the drainer in time${failure}`));
        return false;
      }
      return true;
    });
    this.timer = this.waiters.length ? setTimeout(() => void this.poll(), this.everyMs) : null;
  }

  /** Waiters left get an answer now: the drainer is stopping. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const w of this.waiters.splice(0)) w.reject(new Error('the drainer stopped before the dirty keys were re-synced'));
  }
}
