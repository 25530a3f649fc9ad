// Health gates of a read step, pure: given the counters when the step began,
// the counters now and the latency p99s over the same window, each gate says
// its value, its threshold and whether it holds. A step advances only while
// every gate holds; a breach while SHIFTING rolls reads back.
export interface GateCounters {
  /** Requests run on the target on a client's behalf (routed reads, mirrored transactions), failed ones included. */
  targetRequests: number;
  targetErrors: number;
  /** Of the errors (and requests): routed reads that could not open their session to the target. */
  targetSessionErrors: number;
  shadowCompared: number;
  shadowMismatches: number;
  dirtyKeys: number;
  breakerOpen: boolean;
  tripped: string | null;
  drainBacklog: number;
}

export interface LatencyP99 {
  source: { p99: number | null; samples: number };
  target: { p99: number | null; samples: number };
}

export interface Thresholds {
  maxErrorRate: number;
  maxMismatchRate: number;
  maxLatencyRatio: number;
}

export type GateName = 'errorRate' | 'mismatchRate' | 'latencyRatio' | 'breaker' | 'dirtyKeys';

export interface GateResult {
  gate: GateName;
  ok: boolean;
  value: number | string | null;
  threshold: number | string;
  detail: string;
}

/** Rates are judged only on enough traffic (or errors): one failed read in five is noise, not a trend. */
export const MIN_REQUESTS = 20;
export const MIN_ERRORS = 3;
/**
 * A p99 of n samples is the (n/100 + 1)th largest: from fewer than 200 it is the
 * largest or second largest, and one scheduling stall on a busy host decides it
 * (CI saw 21 ms against 7 ms from 60 reads). From 200 up, three slow reads must agree.
 */
export const MIN_LATENCY_SAMPLES = 200;
/** Latencies under this many milliseconds count as this much: sub-millisecond jitter is no reason to roll back. */
export const LATENCY_FLOOR_MS = 5;

const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 2 : 1)} %`;

/**
 * `advancing`: the check before a step up, which also wants the drain backlog
 * empty (keys left dirty by an earlier failure must be re-synced before more
 * reads go to the target); the watcher during a soak does not roll back for a
 * backlog of out-of-band writes waiting their turn.
 */
export function evaluateGates(start: GateCounters, now: GateCounters, latency: LatencyP99, t: Thresholds, advancing = false): GateResult[] {
  const requests = now.targetRequests - start.targetRequests;
  const errors = now.targetErrors - start.targetErrors;
  const errorRate = requests > 0 ? Math.min(1, errors / requests) : errors > 0 ? 1 : 0;
  const unopened = now.targetSessionErrors - start.targetSessionErrors;
  const judgeErrors = requests >= MIN_REQUESTS || errors >= MIN_ERRORS;

  const compared = now.shadowCompared - start.shadowCompared;
  const mismatches = now.shadowMismatches - start.shadowMismatches;
  const mismatchRate = compared > 0 ? mismatches / compared : 0;
  const judgeMismatches = compared >= MIN_REQUESTS || mismatches >= MIN_ERRORS;

  const { source, target } = latency;
  const enough = source.samples >= MIN_LATENCY_SAMPLES && target.samples >= MIN_LATENCY_SAMPLES && source.p99 !== null && target.p99 !== null;
  const ratio = enough ? Math.max(target.p99!, LATENCY_FLOOR_MS) / Math.max(source.p99!, LATENCY_FLOOR_MS) : null;

  const newDirty = now.dirtyKeys - start.dirtyKeys;
  return [
    {
      gate: 'errorRate',
      ok: !judgeErrors || errorRate <= t.maxErrorRate,
      value: errorRate,
      threshold: t.maxErrorRate,
      detail: `target error rate ${pct(errorRate)} (${errors} of ${requests} requests${unopened ? `, ${unopened} of them reads that could not open a session` : ''})${judgeErrors ? '' : ', too few to judge'}; limit ${pct(t.maxErrorRate)}`,
    },
    {
      gate: 'mismatchRate',
      ok: !judgeMismatches || mismatchRate <= t.maxMismatchRate,
      value: mismatchRate,
      threshold: t.maxMismatchRate,
      detail: `shadow-read mismatch rate ${pct(mismatchRate)} (${mismatches} of ${compared} compared)${judgeMismatches ? '' : ', too few to judge'}; limit ${pct(t.maxMismatchRate)}`,
    },
    {
      gate: 'latencyRatio',
      ok: ratio === null || ratio <= t.maxLatencyRatio,
      value: ratio,
      threshold: t.maxLatencyRatio,
      detail: ratio === null
        ? `p99 latency ratio: too few reads to judge (${target.samples} on the target, ${source.samples} on the source); limit ${t.maxLatencyRatio}×`
        : `p99 latency target/source ${ratio.toFixed(2)}× (${target.p99!.toFixed(1)} ms / ${source.p99!.toFixed(1)} ms); limit ${t.maxLatencyRatio}×`,
    },
    {
      gate: 'breaker',
      ok: !now.breakerOpen && !now.tripped,
      value: now.breakerOpen ? 'open' : now.tripped ? 'tripped' : 'closed',
      threshold: 'closed',
      detail: now.breakerOpen ? 'target circuit breaker open' : now.tripped ? `reads tripped: ${now.tripped}` : 'target circuit breaker closed',
    },
    {
      gate: 'dirtyKeys',
      ok: newDirty === 0 && (!advancing || now.drainBacklog === 0),
      value: newDirty,
      threshold: 0,
      detail: `${newDirty} key(s) recorded dirty (mirror write failed) since the step began; drain backlog ${now.drainBacklog}${advancing && now.drainBacklog > 0 ? ' (must be 0 to step up)' : ''}`,
    },
  ];
}

export function firstBreach(results: readonly GateResult[]): GateResult | undefined {
  return results.find((r) => !r.ok);
}
