// ResyncWatch's bookkeeping (pure logic): a waiter is answered only once every
// change row that existed when it asked is gone, whatever arrives after it.
import { describe, expect, it } from 'vitest';
import { ResyncWatch } from '../../proxy/mirror/resync-watch.ts';

/** A change table as a set of sequence numbers the test adds to and drains. */
function table() {
  const seqs = new Set<bigint>();
  let next = 1n;
  let unrecorded = false;
  return {
    add: (): bigint => {
      const s = next++;
      seqs.add(s);
      return s;
    },
    drainUpTo: (s: bigint) => [...seqs].filter((x) => x <= s).forEach((x) => seqs.delete(x)),
    setUnrecorded: (v: boolean) => (unrecorded = v),
    bounds: async () => (unrecorded ? null : seqs.size ? { lo: [...seqs].reduce((a, b) => (a < b ? a : b)), hi: [...seqs].reduce((a, b) => (a > b ? a : b)) } : { lo: null, hi: null }),
  };
}
const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms));

describe('ResyncWatch', () => {
  it('answers a waiter once the rows that existed when it asked are drained, not before, and ignores later rows', async () => {
    const t = table();
    const watch = new ResyncWatch(t.bounds, 5);
    t.add();
    const mine = t.add();
    let done = false;
    const p = watch.drained(5_000).then(() => (done = true));
    await tick();
    // rows written after the question do not hold it up
    const later = t.add();
    t.drainUpTo(mine - 1n);
    await tick();
    expect(done).toBe(false);
    t.drainUpTo(mine);
    await p;
    expect(done).toBe(true);
    expect(later).toBeGreaterThan(mine);
    watch.stop();
  });

  it('an empty table answers at once; keys still to be recorded hold the answer; a deadline rejects', async () => {
    const t = table();
    const watch = new ResyncWatch(t.bounds, 5);
    await watch.drained(1_000);
    t.setUnrecorded(true);
    let done = false;
    const p = watch.drained(5_000).then(() => (done = true));
    await tick();
    expect(done).toBe(false);
    // the drainer records them: a row, then drains it
    const s = t.add();
    t.setUnrecorded(false);
    await tick();
    expect(done).toBe(false);
    t.drainUpTo(s);
    await p;
    t.add();
    await expect(watch.drained(50)).rejects.toThrow(/not re-synced/);
    watch.stop();
  });

  it('stop answers every waiter', async () => {
    const t = table();
    t.add();
    const watch = new ResyncWatch(t.bounds, 5);
    const p = watch.drained(60_000);
    watch.stop();
    await expect(p).rejects.toThrow(/stopped/);
  });
});
