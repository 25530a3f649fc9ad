// Read latency per backend: a Prometheus histogram for dashboards, and a ring
// of recent samples so the control plane can take a p99 over exactly the
// window since a read step began (a histogram's buckets cannot be windowed).
import { CountedHistogram } from './counted-metrics.ts';

const histogram = CountedHistogram.register('cutover_read_seconds', 'Time to answer a read, by backend', [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5]);
const observe = { source: histogram.child({ backend: 'source' }), target: histogram.child({ backend: 'target' }) };

const CAPACITY = 8192;

export class LatencyWindow {
  private readonly at = new Float64Array(CAPACITY);
  private readonly ms = new Float64Array(CAPACITY);
  private next = 0;
  private count = 0;

  record(ms: number, now = Date.now()): void {
    this.at[this.next] = now;
    this.ms[this.next] = ms;
    this.next = (this.next + 1) % CAPACITY;
    if (this.count < CAPACITY) this.count++;
  }

  /** p99 of the samples taken since `since` (ms epoch), from the newest CAPACITY samples. */
  p99Since(since: number): { p99: number | null; samples: number } {
    const values: number[] = [];
    for (let i = 0; i < this.count; i++) {
      const j = (this.next - 1 - i + CAPACITY) % CAPACITY;
      if (this.at[j]! < since) break;
      values.push(this.ms[j]!);
    }
    if (!values.length) return { p99: null, samples: 0 };
    values.sort((a, b) => a - b);
    return { p99: values[Math.min(values.length - 1, Math.ceil(values.length * 0.99) - 1)]!, samples: values.length };
  }
}

export const readLatency = { source: new LatencyWindow(), target: new LatencyWindow() };

/** One read answered by `backend`, started at `startedNs` (process.hrtime.bigint()). */
export function recordRead(backend: 'source' | 'target', startedNs: bigint): void {
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  observe[backend].observe(seconds);
  readLatency[backend].record(seconds * 1000);
}
