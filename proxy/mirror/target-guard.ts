// Everything that touches the target on a client's behalf goes through here:
// mirror applies and routed reads share one circuit breaker (opossum). When it
// opens, or a mirror apply fails, reads trip back to the source at once
// (LiveState.trip) and stay there until an operator or the controller resumes.
// A source COMMIT the server refused after the mirror committed is no failure
// of the target: reads are held on the source only until the drainer has
// re-synced those keys.
import CircuitBreaker from 'opossum';
import type { LiveState } from '../../common/live-state.ts';
import type { Logger } from '../../common/log.ts';
import type { Change, ChangeApplier } from './apply.ts';
import { mirrorMetrics } from './metrics.ts';

export interface TargetStats {
  reads: number;
  readErrors: number;
  /** Routed reads that could not open their session to the target: requests that failed before reaching it (not in reads). */
  sessionErrors: number;
  applies: number;
  applyErrors: number;
  dirtyKeys: number;
  /** Keys of source COMMITs refused after the mirror committed (serialization failures, deferred constraints): re-synced, reads held meanwhile. */
  refusedKeys: number;
  breakerOpen: boolean;
}

/** How long reads may wait on the drainer's re-sync of a refused commit before they trip as for a mirror failure. */
export const RESYNC_HOLD_MS = 10_000;
/** RESYNC_HOLD_MS, or CUTOVER_RESYNC_HOLD_MS from the environment, read when a hold starts. */
const resyncHoldMs = () => Number(process.env.CUTOVER_RESYNC_HOLD_MS) || RESYNC_HOLD_MS;

/** A routed read in flight, watched for its deadline. */
interface InFlight {
  /** When its current deadline started (ms epoch): the read's start, or the last time the target was seen running it. */
  since: number;
  pid: number | undefined;
  fail: (e: Error) => void;
  /** The target is being asked whether the read's process is still active. */
  asking: boolean;
  /** The session has stopped reading the target's answer: its client is not taking what it was sent (relay.ts). */
  stalled?: () => boolean;
}

export class TargetGuard {
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  readonly stats: TargetStats = { reads: 0, readErrors: 0, sessionErrors: 0, applies: 0, applyErrors: 0, dirtyKeys: 0, refusedKeys: 0, breakerOpen: false };
  /** Refused commits whose keys are still being re-synced. */
  private holds = 0;
  /**
   * Routed reads in flight. One timer sweeps them all for their deadline: a
   * timer of each read's own (set and cleared thousands of times a second,
   * with the race of promises around it) cost more than the read's routing.
   */
  private readonly reads = new Set<InFlight>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly applier: ChangeApplier,
    private readonly live: LiveState,
    private readonly log: Logger,
    /** The drainer's: resolves once every change row now on the source has been drained. */
    private readonly drained: ((withinMs: number) => Promise<void>) | null = null,
    private readonly readTimeoutMs = 5_000,
  ) {
    this.breaker = new CircuitBreaker((fn: () => Promise<unknown>) => fn(), {
      // no timeout of the breaker's own: an apply it gave up on would still be on its way to the mirror and
      // could land after a newer re-sync of the same rows. The applier's deadline drops the connection and
      // fences it off (MirrorApplier.roundTrip); a read has its deadline below.
      timeout: false,
      errorThresholdPercentage: 50,
      volumeThreshold: 5,
      resetTimeout: 10_000,
    });
    this.breaker.on('open', () => {
      this.stats.breakerOpen = true;
      this.log.warn('target circuit breaker opened: reads stay on the source');
      this.live.trip('circuit breaker opened: the target is failing');
    });
    this.breaker.on('close', () => {
      this.stats.breakerOpen = false;
      this.log.info('target circuit breaker closed');
    });
    // a deadline is kept to within a tenth of itself
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, readTimeoutMs / 10)).unref();
  }

  get readsAllowed(): boolean {
    return this.holds === 0 && !this.breaker.opened && !this.live.get().tripped;
  }

  /** A session's changes just before its COMMIT (may share a mirror transaction with other sessions'). */
  async apply(changes: Change[]): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      await this.breaker.fire(() => (this.applier.applyGrouped ? this.applier.applyGrouped(changes) : this.applier.apply(changes)));
      this.stats.applies++;
      mirrorMetrics.applied.inc(changes.length);
      mirrorMetrics.applySeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
    } catch (e) {
      this.stats.applyErrors++;
      mirrorMetrics.failures.inc();
      mirrorMetrics.targetErrors.inc();
      throw e;
    }
  }

  /**
   * Run a routed read's completion check under the breaker, within the read
   * deadline (`pid`: the target process running it; while `stalled`, the
   * deadline waits: a slow client is no fault of the target).
   */
  async read(check: () => Promise<void>, pid?: number, stalled?: () => boolean): Promise<void> {
    this.stats.reads++;
    try {
      await this.breaker.fire(() => this.whileRunning(check(), pid, stalled));
    } catch (e) {
      this.stats.readErrors++;
      mirrorMetrics.targetErrors.inc();
      throw e;
    }
  }

  /**
   * A read's completion, waited on while the target is seen running it: past
   * each deadline the mirror is asked, on a connection of its own, whether
   * the read's server process is still active. A report that takes a minute
   * is a slow read, not a failure (it ran on the target, then again on the
   * source, and counted against the target's health); a frozen host answers
   * nothing, and a lost connection leaves the process idle or gone: the read
   * is given up on and runs on the source.
   */
  private whileRunning(p: Promise<void>, pid: number | undefined, stalled: (() => boolean) | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const read: InFlight = { since: Date.now(), pid, fail: reject, asking: false, stalled };
      this.reads.add(read);
      // settled after its deadline gave up on it: nothing (the promise is settled already)
      p.then(
        () => {
          this.reads.delete(read);
          resolve();
        },
        (e: unknown) => {
          this.reads.delete(read);
          reject(e as Error);
        },
      );
    });
  }

  private sweep(): void {
    if (!this.reads.size) return;
    const now = Date.now();
    for (const read of this.reads) {
      if (read.stalled?.()) read.since = now;
      if (read.asking || now - read.since < this.readTimeoutMs) continue;
      const giveUp = () => {
        this.reads.delete(read);
        read.fail(new Error(`the target did not answer a read within ${this.readTimeoutMs} ms`));
      };
      const running = this.applier.running;
      if (read.pid === undefined || !running) {
        giveUp();
        continue;
      }
      read.asking = true;
      running.call(this.applier, read.pid).then(
        (alive) => {
          read.asking = false;
          if (!this.reads.has(read)) return;
          if (alive) read.since = Date.now();
          else giveUp();
        },
        () => {
          read.asking = false;
          if (this.reads.has(read)) giveUp();
        },
      );
    }
  }

  /**
   * A routed read that could not open its session to the target, and ran on the source. No read() counted
   * it, so it is a request of its own to the gate as well as an error: counted as an error alone it gave
   * "880 of 878 requests".
   */
  sessionFailed(reason: string): void {
    this.stats.sessionErrors++;
    mirrorMetrics.targetErrors.inc();
    this.log.warn({ reason }, 'target failure');
  }

  /** A failure of a read that read() already counted as a request (its answer, judged after). */
  targetFailed(reason: string): void {
    this.stats.readErrors++;
    mirrorMetrics.targetErrors.inc();
    this.log.warn({ reason }, 'target failure');
  }

  /** Keys the mirror may have wrong: reads stop going to the target now. */
  dirty(keys: number, reason: string): void {
    this.stats.dirtyKeys += keys;
    mirrorMetrics.dirtyKeys.inc(keys);
    this.log.warn({ keys, reason }, 'mirror write failed: keys recorded dirty, reads back to the source');
    this.live.trip(`mirror write failed: ${reason}`);
  }

  /**
   * A source COMMIT the server answered with an error (or whose connection
   * was lost, the outcome unknown) after the mirror had committed the transaction: the mirror holds rows the source does not, the
   * target did nothing wrong. Reads stay on the source from now until the keys,
   * recorded dirty by the caller, have been re-synced; then they resume on their
   * own. The caller starts the wait once the keys are recorded (or handed to
   * the drainer to record); not re-synced within RESYNC_HOLD_MS, reads trip.
   */
  refused(keys: number, reason: string): () => void {
    if (!this.drained) {
      this.dirty(keys, reason);
      return () => undefined;
    }
    this.holds++;
    this.stats.refusedKeys += keys;
    mirrorMetrics.refusedKeys.inc(keys);
    this.log.debug({ keys, reason }, 'source refused a COMMIT the mirror had applied: reads held on the source until its keys are re-synced');
    return () => void this.releaseWhenDrained('mirror holds a refused transaction');
  }

  /**
   * Reads held on the source until every change row now on the source has
   * been drained (changes committed past the proxy's mirroring); resolves
   * then, or after RESYNC_HOLD_MS with reads tripped.
   */
  async untilDrained(reason: string): Promise<void> {
    if (!this.drained) return;
    this.holds++;
    await this.releaseWhenDrained(`${reason}; its changes not mirrored in time`);
  }

  /** One hold ends once the drainer has caught up; if it does not in time, reads trip for `cause`. */
  private async releaseWhenDrained(cause: string): Promise<void> {
    try {
      await this.drained!(resyncHoldMs());
    } catch (e) {
      this.log.warn({ reason: (e as Error).message, cause }, 'changes not re-synced by the drainer in time: reads back to the source');
      this.live.trip(`${cause}: ${(e as Error).message}`);
    } finally {
      this.holds--;
    }
  }

  shutdown(): void {
    clearInterval(this.sweeper);
    this.breaker.shutdown();
  }
}
