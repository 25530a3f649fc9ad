// Which failures are worth another try: the batch was rolled back on both
// sides, so taking it again can neither apply it twice nor half.
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '55P03', '57P01', '57P02', '57P03', '53300', '08000', '08003', '08006', '08001', '08004']);
const TRANSIENT_ERRNOS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'SQLITE_BUSY', 'SQLITE_LOCKED']);

export function isTransient(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  if (err.code && (TRANSIENT_SQLSTATES.has(err.code) || TRANSIENT_ERRNOS.has(err.code))) return true;
  return /Connection terminated|connection is closed|Client has encountered a connection error|not queryable/i.test(err.message ?? '');
}

/** Exponential back-off with jitter: 250 ms, 500 ms, 1 s, … */
export function backoffMs(attempt: number): number {
  return 250 * 2 ** attempt * (0.75 + Math.random() / 2);
}

/** A rows-per-second cap shared by all workers. */
export class RateLimiter {
  private readonly started = Date.now();
  private rows = 0;
  constructor(private readonly perSecond: number) {}
  /** Whether `n` more rows now would go past the cap (a batch loop stops early, then takes). */
  over(n: number): boolean {
    return this.perSecond > 0 && ((this.rows + n) / this.perSecond) * 1000 > Date.now() - this.started;
  }

  async take(n: number): Promise<void> {
    if (!this.perSecond) return;
    this.rows += n;
    const due = (this.rows / this.perSecond) * 1000 - (Date.now() - this.started);
    if (due > 0) await new Promise((r) => setTimeout(r, due));
  }
}
