// The hot-path metrics answer exactly what prom-client's own Histogram and
// Counter answer for the same observations: same exposition lines.
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CountedCounter, CountedHistogram } from '../../proxy/counted-metrics.ts';

const bounds = [0.001, 0.01, 0.1, 1];
const lines = async (name: string, registry: client.Registry = client.register) => (await registry.getSingleMetricAsString(name)).split('\n').sort();

describe('counted metrics', () => {
  it('a histogram: same buckets, sum and count as prom-client.Histogram', async () => {
    const reference = new client.Registry();
    const theirs = new client.Histogram({ name: 'test_counted_seconds', help: 'h', labelNames: ['backend'], buckets: bounds, registers: [reference] });
    const ours = CountedHistogram.register('test_counted_seconds', 'h', bounds);
    const src = ours.child({ backend: 'source' });
    const tgt = ours.child({ backend: 'target' });
    for (const v of [0.0005, 0.001, 0.0011, 0.05, 0.5, 2, 7, 0.009]) {
      src.observe(v);
      theirs.observe({ backend: 'source' }, v);
    }
    tgt.observe(0.02);
    theirs.observe({ backend: 'target' }, 0.02);
    expect(await lines('test_counted_seconds')).toEqual(await lines('test_counted_seconds', reference));
    // registering again (a module loaded twice) gives the same metric, not a second series
    expect(CountedHistogram.register('test_counted_seconds', 'h', bounds)).toBe(ours);
    ours.child({ backend: 'source' }).observe(0.5);
    theirs.observe({ backend: 'source' }, 0.5);
    expect(await lines('test_counted_seconds')).toEqual(await lines('test_counted_seconds', reference));
  });

  it('a counter over two labels: same series as prom-client.Counter', async () => {
    const reference = new client.Registry();
    const theirs = new client.Counter({ name: 'test_counted_total', help: 'c', labelNames: ['backend', 'kind'], registers: [reference] });
    const ours = CountedCounter.register('test_counted_total', 'c', ['backend', 'kind']);
    for (const [b, k] of [['source', 'read'], ['target', 'read'], ['source', 'read'], ['source', 'write']] as const) {
      ours.inc(b, k);
      theirs.inc({ backend: b, kind: k });
    }
    expect(await lines('test_counted_total')).toEqual(await lines('test_counted_total', reference));
    expect(await client.register.metrics()).toMatch(/^test_counted_total\{backend="source",kind="read"\} 2$/m);
  });
});
