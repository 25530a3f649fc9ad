// The drainer's schedule says a drain outage once at its start. While the new
// database was down, every other pass found nothing to drain and succeeded
// without touching it, and each failure after one was taken for a new outage:
// "a drain failed" about once a second for as long as the outage lasted.
import { expect, it } from 'vitest';
import { DrainSchedule } from '../../proxy/mirror/drain-schedule.ts';

/** Runs `passes` (a row count, or an error thrown) through a schedule with a 1 ms interval; the outages it said, at which pass. */
async function said(passes: (number | Error)[], clock: () => number): Promise<number[]> {
  const out: number[] = [];
  let i = 0;
  await new Promise<void>((done) => {
    const s = new DrainSchedule(async () => {
      if (i >= passes.length) {
        s.stop();
        done();
        return 0;
      }
      const p = passes[i++]!;
      if (p instanceof Error) throw p;
      return p;
    }, 100, 1, () => out.push(i), clock);
    s.start();
  });
  return out;
}

it('an outage broken by passes with nothing to drain is said once, not at each failure', async () => {
  const down = new Error('mirror down');
  const flapping = Array.from({ length: 10 }, (_, k) => (k % 2 ? down : 0));
  expect(await said(flapping, () => 1_000)).toEqual([2]);
});

it('an outage that starts again a minute after the last report is said again', async () => {
  const down = new Error('mirror down');
  let t = 0;
  const clock = () => (t += 40_000);
  expect(await said([down, 0, down, 0, down], clock)).toEqual([1, 5]);
});
