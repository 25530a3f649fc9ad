import { describe, expect, it } from 'vitest';
import { evaluateGates, firstBreach, type GateCounters } from '../../control/gates.ts';
import { LatencyWindow } from '../../proxy/latency.ts';

const zero: GateCounters = { targetRequests: 0, targetErrors: 0, targetSessionErrors: 0, shadowCompared: 0, shadowMismatches: 0, dirtyKeys: 0, breakerOpen: false, tripped: null, drainBacklog: 0 };
const T = { maxErrorRate: 0.01, maxMismatchRate: 0.001, maxLatencyRatio: 3 };
const noLatency = { source: { p99: null, samples: 0 }, target: { p99: null, samples: 0 } };

describe('gates', () => {
  it('hold on a quiet window', () => {
    expect(firstBreach(evaluateGates(zero, zero, noLatency, T))).toBeUndefined();
  });

  it('judge the error rate over the window only', () => {
    const start = { ...zero, targetRequests: 1000, targetErrors: 500 };
    expect(firstBreach(evaluateGates(start, { ...start, targetRequests: 2000, targetErrors: 505 }, noLatency, T))).toBeUndefined();
    const b = firstBreach(evaluateGates(start, { ...start, targetRequests: 2000, targetErrors: 520 }, noLatency, T));
    expect(b).toMatchObject({ gate: 'errorRate', value: 0.02, threshold: 0.01 });
    expect(b!.detail).toContain('20 of 1000 requests');
  });

  it('do not judge a rate on too little traffic, unless errors pile up', () => {
    expect(firstBreach(evaluateGates(zero, { ...zero, targetRequests: 5, targetErrors: 1 }, noLatency, T))).toBeUndefined();
    expect(firstBreach(evaluateGates(zero, { ...zero, targetRequests: 5, targetErrors: 3 }, noLatency, T))?.gate).toBe('errorRate');
  });

  it('mismatch rate, breaker, trips and dirty keys', () => {
    expect(firstBreach(evaluateGates(zero, { ...zero, shadowCompared: 1000, shadowMismatches: 2 }, noLatency, T))?.gate).toBe('mismatchRate');
    expect(firstBreach(evaluateGates(zero, { ...zero, breakerOpen: true }, noLatency, T))?.gate).toBe('breaker');
    expect(firstBreach(evaluateGates(zero, { ...zero, tripped: 'mirror write failed' }, noLatency, T))?.detail).toContain('mirror write failed');
    expect(firstBreach(evaluateGates(zero, { ...zero, dirtyKeys: 1 }, noLatency, T))?.gate).toBe('dirtyKeys');
    // a drain backlog blocks a step up, not a soak
    expect(firstBreach(evaluateGates(zero, { ...zero, drainBacklog: 4 }, noLatency, T))).toBeUndefined();
    expect(firstBreach(evaluateGates(zero, { ...zero, drainBacklog: 4 }, noLatency, T, true))?.gate).toBe('dirtyKeys');
  });

  it('p99 latency ratio, with a floor so sub-millisecond jitter never counts', () => {
    const lat = (s: number, t: number, n = 200) => ({ source: { p99: s, samples: n }, target: { p99: t, samples: n } });
    expect(firstBreach(evaluateGates(zero, zero, lat(0.2, 3), T))).toBeUndefined();
    // a p99 of fewer than 200 reads is one or two stalls: not judged
    expect(firstBreach(evaluateGates(zero, zero, lat(10, 40, 199), T))).toBeUndefined();
    expect(evaluateGates(zero, zero, lat(10, 40, 199), T).find((g) => g.gate === 'latencyRatio')!.detail).toContain('too few reads to judge');
    expect(firstBreach(evaluateGates(zero, zero, lat(10, 40), T))).toMatchObject({ gate: 'latencyRatio', value: 4 });
    expect(firstBreach(evaluateGates(zero, zero, lat(10, 29), T))).toBeUndefined();
  });

  it('latency window: p99 of the samples since a time', () => {
    const w = new LatencyWindow();
    for (let i = 1; i <= 100; i++) w.record(i, 1000);
    for (let i = 1; i <= 100; i++) w.record(i * 10, 2000);
    expect(w.p99Since(2000)).toEqual({ p99: 990, samples: 100 });
    expect(w.p99Since(0).samples).toBe(200);
    expect(w.p99Since(3000)).toEqual({ p99: null, samples: 0 });
  });
});
