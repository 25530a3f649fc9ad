// The gate watcher in every proxy: while SHIFTING, checks the gates every
// 200 ms; a breach (or an open breaker, or a trip) rolls reads back to 0 %,
// moves the phase to ROLLED_BACK with the reason in the audit log, and posts
// to the alert webhook. Works without the store too: the rollback is a "safe"
// change, applied locally and written back when the store answers again.
import type { LiveState } from '../common/live-state.ts';
import type { Logger } from '../common/log.ts';
import { firstBreach, type GateResult } from './gates.ts';
import type { GateMonitor } from './gate-monitor.ts';
import { postWebhook } from './webhook.ts';
import { rollback } from './steer.ts';
import type { StateSync } from './state/sync.ts';

export interface WatcherOptions {
  intervalMs?: number;
  webhook?: string;
  proxyId: string;
}

export function startGateWatcher(sync: StateSync, live: LiveState, gates: GateMonitor, log: Logger, opts: WatcherOptions): { stop(): void } {
  let busy = false;
  const check = async () => {
    const s = live.get();
    if (busy || s.phase !== 'SHIFTING' || !gates.hasTarget) return;
    const results = gates.evaluate();
    const breach = firstBreach(results);
    if (!breach) return;
    busy = true;
    try {
      await rollBack(breach, results, s.readPercent);
    } catch (e) {
      log.error({ reason: (e as Error).message }, 'automatic rollback failed');
    } finally {
      busy = false;
    }
  };
  const rollBack = async (breach: GateResult, results: GateResult[], fromPercent: number) => {
    const reason = `gate ${breach.gate} failed at ${fromPercent} %: ${breach.detail}`;
    const started = Date.now();
    const r = await sync.change(rollback(), `${opts.proxyId} gate watcher`, reason, { safe: true });
    if (!r.changed) return; // another proxy of the fleet got there first
    log.warn({ reason, ms: Date.now() - started, local: r.local ?? false }, 'gate breached: reads rolled back to the source');
    postWebhook(opts.webhook, {
      event: 'rollback',
      at: new Date().toISOString(),
      proxy: opts.proxyId,
      reason,
      gate: breach.gate,
      from: { phase: r.before.phase, readPercent: fromPercent, planStep: r.before.planStep },
      to: { phase: r.after.phase, readPercent: r.after.readPercent },
      gates: results,
    }, log);
  };
  const timer = setInterval(() => void check(), opts.intervalMs ?? 200);
  timer.unref();
  // a trip needs no wait for the next tick
  const onTrip = () => void check();
  live.on('trip', onTrip);
  return {
    stop: () => {
      clearInterval(timer);
      live.off('trip', onTrip);
    },
  };
}
