// When a drainer runs, whatever it drains: at once on start, then every
// interval; straight again while batches come back full; backing off
// (up to 10 s) while draining fails, saying so at its start and every 30
// failures while it lasts. A pass with nothing to drain touches no mirror, so
// it succeeds while the mirror is down: an outage taken up again within
// SAME_OUTAGE_MS of being reported is the same one, not said again.
const SAME_OUTAGE_MS = 60_000;

export class DrainSchedule {
  stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private saidAt = -Infinity;

  constructor(
    private readonly drainOnce: () => Promise<number>,
    /** A drain that took this many rows is followed at once by another (the drainer's batch may vary). */
    private readonly batch: number | (() => number),
    private readonly intervalMs: number,
    private readonly onOutage: (e: Error) => void,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.stopped = false;
    const tick = async () => {
      if (this.stopped) return;
      let delay = this.intervalMs;
      try {
        const full = () => (typeof this.batch === 'number' ? this.batch : this.batch());
        while (!this.stopped && (await this.drainOnce()) === full());
        this.failures = 0;
      } catch (e) {
        this.failures++;
        delay = Math.min(10_000, this.intervalMs * 2 ** this.failures);
        // again every 30 failures (about 5 min at the longest delay): a drain failing for good must not fall silent
        if (this.failures % 30 === 1 && (this.failures > 1 || this.now() - this.saidAt >= SAME_OUTAGE_MS)) {
          this.saidAt = this.now();
          this.onOutage(e as Error);
        }
      }
      if (!this.stopped) this.timer = setTimeout(tick, delay);
    };
    this.timer = setTimeout(tick, 0);
  }

  /** No further ticks; a drain already running finishes (the drainer waits for it). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
