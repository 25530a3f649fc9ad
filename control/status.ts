// The status document every proxy serves (GET /status) and `cutover status`
// prints: phase, reads, plan position, gates with values and thresholds,
// breaker, dirty keys, degraded flag, counters and the audit history.
import type { ControlContext } from './context.ts';
import { shadowStats } from '../proxy/shadow.ts';
import { pauseState, pauseWindowMs, swapRunning } from './pause.ts';
import { nextStep } from './steer.ts';

export async function statusOf(ctx: ControlContext) {
  const { live, proxy, sync, gates, cfg } = ctx;
  const s = live.get();
  const record = sync.current;
  const next = nextStep(cfg.steps, record);
  const guard = proxy.guard?.stats ?? null;
  const history = await sync.store.history(20).catch(() => null);
  // the row that set the pause may lie further back than the 20 shown
  const pauseHistory = s.paused ? await sync.store.history(200).catch(() => null) : null;
  return {
    phase: s.phase,
    readPercent: s.readPercent,
    effectiveReadPercent: live.effectiveReadPercent,
    tripped: s.tripped,
    planStep: s.planStep,
    plan: { steps: cfg.steps, soakSeconds: cfg.soak, position: s.planStep, next: next >= 0 ? cfg.steps[next] : null },
    mirroring: s.mirroring,
    sourceOfTruth: s.sourceOfTruth,
    /** Promote (or rollback after it, or finalize) is swapping the roles: new transactions wait. */
    paused: s.paused,
    /** Since when, whether this proxy runs the swap, and whether nobody does (stale: cutover resume lifts it). */
    pause: pauseState(s.paused, pauseHistory, swapRunning(), pauseWindowMs(cfg.promoteTimeout)),
    /** When a verify of every table last passed (null: reads may not start without --force), and the last result. */
    verifiedAt: s.verifiedAt,
    verifyResult: s.verifyResult,
    degraded: sync.degraded,
    store: { kind: sync.store.kind, where: sync.store.where, version: record.version },
    gates: gates.hasTarget ? { since: new Date(gates.windowStartedAt).toISOString(), results: gates.evaluate() } : null,
    breaker: guard ? (guard.breakerOpen ? 'open' : 'closed') : null,
    dirtyKeys: guard?.dirtyKeys ?? 0,
    drainBacklog: proxy.drainer?.backlog ?? 0,
    proxy: { id: ctx.proxyId, ...proxy.stats() },
    target: guard ? { ...guard, drainBacklog: proxy.drainer?.backlog ?? 0 } : null,
    shadow: { ...shadowStats },
    history: history ?? [],
  };
}

export type Status = Awaited<ReturnType<typeof statusOf>>;
