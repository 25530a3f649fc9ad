// Keeps a proxy's LiveState in step with the state store. Changes go to the
// store first and reach LiveState from there (pub/sub for Redis, at once for
// the process that made them); a periodic re-read is the safety net. When the
// store is unreachable the proxy keeps its last known state, says it is
// degraded, and only ever moves to safer settings (a rollback, a trip), which
// it writes back once the store answers again.
import type { LiveSnapshot, LiveState } from '../../common/live-state.ts';
import type { Logger } from '../../common/log.ts';
import { Refused } from '../refused.ts';
import { staleVerify } from '../verify-gate.ts';
import { applyMutation, recordOf, type Changed, type ControlRecord, type Mutation, type StateStore } from './store.ts';

export class StoreUnavailable extends Error {}

interface Pending {
  mutate: Mutation;
  actor: string;
  reason: string;
}

const CAPTURE_GONE = 'capture removed from the source (the proxy stopped mirroring), so writes no longer reach the other database';

export class StateSync {
  /** Why the store cannot be trusted right now, or null. */
  degraded: string | null = null;
  /** Version of the record LiveState reflects (-1: none yet). */
  private version = -1;
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private stopped = false;

  constructor(
    readonly store: StateStore,
    private readonly live: LiveState,
    private readonly log: Logger,
    readonly actor: string,
    private readonly rereadMs = 2_000,
  ) {}

  async start(): Promise<void> {
    this.store.onHealth((up, reason) => {
      if (!up) this.markDegraded(`state store ${this.store.where} unreachable: ${reason}`);
      else void this.reread();
    });
    this.unsubscribe = this.store.subscribe((record) => {
      if (record.version > this.version) this.apply(record, 'changed in the state store');
    });
    // a trip is local and immediate; the fleet learns it through the store
    this.live.on('trip', (reason: string) => {
      void this.change((cur) => (cur.tripped ? null : { tripped: reason }), this.actor, reason, { safe: true }).catch(() => undefined);
    });
    this.live.on('schema-changed', () => {
      const cause = 'DDL let through by the proxy while mirroring (allowDdl), so the schemas may differ from what was compared';
      void this.change(staleVerify(cause), this.actor, 'proxy: verify pass cleared by DDL (allowDdl)', { safe: true }).catch(() => undefined);
    });
    // capture dropped on the source by any means (psql too), seen by the drainer: writes stop reaching the new
    // database. Only before promote and outside a swap's pause, when capture moving between the databases means nothing
    this.live.on('change', (now: LiveSnapshot, before: LiveSnapshot) => {
      if (!before.mirroring || now.mirroring || now.paused || now.sourceOfTruth !== 'legacy' || !now.verifiedAt) return;
      void this.change(staleVerify(CAPTURE_GONE), this.actor, 'proxy: verify pass cleared: capture gone from the source', { safe: true }).catch(() => undefined);
    });
    await this.reread();
    const tick = async () => {
      if (this.stopped) return;
      await this.reread();
      if (!this.stopped) this.timer = setTimeout(tick, this.rereadMs).unref();
    };
    this.timer = setTimeout(tick, this.rereadMs).unref();
  }

  get current(): ControlRecord {
    return recordOf(this.live.get(), this.version);
  }

  /**
   * Change the record through the store. With `safe`, a change that only lowers
   * risk (rollback, trip) is applied locally when the store is unreachable and
   * written to the store once it answers again.
   */
  async change(mutate: Mutation, actor: string, reason: string, opts: { safe?: boolean } = {}): Promise<Changed & { local?: boolean }> {
    let result: Changed;
    try {
      result = await this.store.change(mutate, actor, reason);
    } catch (e) {
      if (!isStoreFailure(e)) throw e;
      this.markDegraded(`state store ${this.store.where} unreachable: ${(e as Error).message}`);
      if (!opts.safe) throw new StoreUnavailable(`state store ${this.store.where} unreachable: ${(e as Error).message}`);
      const before = this.current;
      const next = applyMutation(before, mutate, actor, reason);
      if (!next) return { before, after: before, changed: false, local: true };
      this.pending.push({ mutate, actor, reason });
      this.live.update(fields(next.after), `${reason} (kept locally: state store unreachable)`);
      this.log.warn({ reason }, 'state store unreachable: safe change applied locally, written back when it answers');
      return { before, after: next.after, changed: true, local: true };
    }
    if (result.changed) this.apply(result.after, reason);
    return result;
  }

  private async reread(): Promise<void> {
    try {
      const stored = await this.store.load();
      if (stored.version === 0 && this.version > 0) {
        // the store lost its data (a Redis restarted without persistence): give it our last known
        // state, unless another proxy got there first
        const mine = this.current;
        await this.store.change((cur) => (cur.version === 0 ? fields(mine) : null), this.actor, 'state store was empty: restored from this proxy\'s last known state');
      }
      // safe changes made while the store was away go on top of whatever it holds now
      await this.flushPending();
      const record = await this.store.load();
      if (this.degraded) this.log.info({ store: this.store.where }, 'state store reachable again');
      this.degraded = null;
      if (record.version !== this.version) this.apply(record, this.version < 0 ? 'restored from the state store' : 'state store re-read');
    } catch (e) {
      if (!isStoreFailure(e)) throw e;
      this.markDegraded(`state store ${this.store.where} unreachable: ${(e as Error).message}`);
    }
  }

  private async flushPending(): Promise<void> {
    while (this.pending.length) {
      const p = this.pending[0]!;
      try {
        const r = await this.store.change(p.mutate, p.actor, p.reason);
        if (r.changed) this.apply(r.after, p.reason);
      } catch (e) {
        if (isStoreFailure(e)) throw e;
        // the store moved on meanwhile (say, an operator already rolled back): nothing left to write
      }
      this.pending.shift();
    }
  }

  private apply(record: ControlRecord, reason: string): void {
    this.version = record.version;
    const now = this.live.get();
    const patch = fields(record);
    if ((Object.keys(patch) as (keyof typeof patch)[]).some((k) => now[k] !== patch[k])) this.live.update(patch, reason);
  }

  private markDegraded(reason: string): void {
    if (!this.degraded) this.log.warn({ reason }, 'state store unreachable: keeping the last known state');
    this.degraded = reason;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.unsubscribe?.();
    await this.store.close();
  }
}

function fields(r: Omit<ControlRecord, 'version'> | ControlRecord) {
  return { phase: r.phase, readPercent: r.readPercent, planStep: r.planStep, tripped: r.tripped, sourceOfTruth: r.sourceOfTruth, paused: r.paused, verifiedAt: r.verifiedAt, verifyResult: r.verifyResult };
}

/** Connection trouble, as opposed to a refused change (PhaseError, SteerError). */
function isStoreFailure(e: unknown): boolean {
  return e instanceof Error && !(e instanceof Refused);
}
