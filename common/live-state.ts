// The migration state a proxy acts on, shared in-process between the control
// plane (which changes it, from the state store) and the proxy sessions (which
// read it on every routing decision: plain field reads, no I/O on the hot path).
import { EventEmitter } from 'node:events';

export type Phase =
  | 'NOT_STARTED' | 'PREFLIGHT' | 'BACKUP' | 'CAPTURE' | 'BACKFILL' | 'VERIFY'
  | 'SHIFTING' | 'PROMOTED' | 'FINALIZED' | 'ROLLED_BACK' | 'FAILED';

/** Which physical database is the source of truth: the legacy one until promote. */
export type Side = 'legacy' | 'new';

export interface LiveSnapshot {
  phase: Phase;
  /** Share of eligible reads sent to the database that is not the source of truth (0..100). */
  readPercent: number;
  /** Plan position: index into the configured read steps last reached (-1: none yet). */
  planStep: number;
  sourceOfTruth: Side;
  /** Whether writes are mirrored to the other side (capture installed and active). */
  mirroring: boolean;
  /** New transactions wait while paused (promote). */
  paused: boolean;
  /** Set when a mirrored write failed or the breaker opened: reads stay on the source of truth. */
  tripped: string | null;
  /** When the last verify of every replicated table found no difference; null when none counts (never, failed, or stale). */
  verifiedAt: string | null;
  /** The last verify result (or why it no longer counts), one line for status and the audit log. */
  verifyResult: string | null;
}

export class LiveState extends EventEmitter {
  private snap: LiveSnapshot;

  constructor(initial: Partial<LiveSnapshot> = {}) {
    super();
    // every session waiting at a promote pause listens for its end
    this.setMaxListeners(0);
    this.snap = { phase: 'NOT_STARTED', readPercent: 0, planStep: -1, sourceOfTruth: 'legacy', mirroring: false, paused: false, tripped: null, verifiedAt: null, verifyResult: null, ...initial };
  }

  get(): Readonly<LiveSnapshot> {
    return this.snap;
  }

  /** Effective read percent: 0 whenever tripped. */
  get effectiveReadPercent(): number {
    return this.snap.tripped ? 0 : this.snap.readPercent;
  }

  update(patch: Partial<LiveSnapshot>, reason = ''): void {
    const before = this.snap;
    this.snap = { ...before, ...patch };
    this.emit('change', this.snap, before, reason);
  }

  /** Whether writes are mirrored right now: capture found, and the migration not finalized. */
  get mirroringActive(): boolean {
    return this.snap.mirroring && this.snap.phase !== 'FINALIZED';
  }

  /**
   * DDL let through while mirroring (allowDdl): a verify pass compared the
   * schema before it, so the control plane takes the pass back. Only while one
   * counts: no store write per DDL statement.
   */
  schemaChanged(): void {
    if (this.snap.verifiedAt) this.emit('schema-changed');
  }

  /** Reads back to the source of truth at once; the control plane records why. */
  trip(reason: string): void {
    if (this.snap.tripped) return;
    this.update({ tripped: reason }, reason);
    this.emit('trip', reason);
  }
}
