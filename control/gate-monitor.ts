// The proxy side of the gates: reads the live counters (target guard, shadow
// reads, drainer, read latency) and keeps the window since the current step
// began — restarted whenever the phase, read percent or plan position changes,
// on every proxy alike since they all see the same changes.
import type { LiveSnapshot, LiveState } from '../common/live-state.ts';
import type { ProxyServer } from '../proxy/server.ts';
import { readLatency } from '../proxy/latency.ts';
import { shadowStats } from '../proxy/shadow.ts';
import { evaluateGates, type GateCounters, type GateResult, type Thresholds } from './gates.ts';

export class GateMonitor {
  private start: GateCounters;
  private startedAt = Date.now();

  constructor(private readonly proxy: ProxyServer, private readonly live: LiveState, private readonly thresholds: Thresholds) {
    this.start = this.counters();
    live.on('change', (after: LiveSnapshot, before: LiveSnapshot) => {
      if (after.phase !== before.phase || after.readPercent !== before.readPercent || after.planStep !== before.planStep) this.restart();
    });
  }

  /** Whether gates can be judged at all: without a target nothing is routed there. */
  get hasTarget(): boolean {
    return this.proxy.guard !== null;
  }

  restart(): void {
    this.start = this.counters();
    this.startedAt = Date.now();
  }

  get windowStartedAt(): number {
    return this.startedAt;
  }

  counters(): GateCounters {
    const g = this.proxy.guard?.stats;
    return {
      targetRequests: (g?.reads ?? 0) + (g?.sessionErrors ?? 0) + (g?.applies ?? 0) + (g?.applyErrors ?? 0),
      targetErrors: (g?.readErrors ?? 0) + (g?.sessionErrors ?? 0) + (g?.applyErrors ?? 0),
      targetSessionErrors: g?.sessionErrors ?? 0,
      shadowCompared: shadowStats.matches + shadowStats.mismatches + shadowStats.recovered,
      shadowMismatches: shadowStats.mismatches,
      dirtyKeys: g?.dirtyKeys ?? 0,
      breakerOpen: g?.breakerOpen ?? false,
      tripped: this.live.get().tripped,
      drainBacklog: this.proxy.drainer?.backlog ?? 0,
    };
  }

  evaluate(advancing = false): GateResult[] {
    const latency = { source: readLatency.source.p99Since(this.startedAt), target: readLatency.target.p99Since(this.startedAt) };
    return evaluateGates(this.start, this.counters(), latency, this.thresholds, advancing);
  }
}
