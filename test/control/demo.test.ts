// `cutover demo` end to end, as a user runs it: its own two clusters, the app
// under load, every phase up to PROMOTED; exit 0, no non-2xx response, every
// acknowledged write on both databases, both equal.
import { describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';

describe('cutover demo', () => {
  it('walks every phase to PROMOTED under load with zero non-2xx responses and exits 0', async () => {
    const t0 = Date.now();
    const r = await cli(['demo', '--soak', '1', '--rows', '1000', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    const phases = report.phases.map((p: { phase: string }) => p.phase);
    expect(phases).toEqual(expect.arrayContaining(['CAPTURE', 'BACKFILL', 'VERIFY', 'SHIFTING 100%', 'PROMOTE', 'PROMOTED']));
    for (const p of report.phases) expect(p, p.phase).toMatchObject({ non2xx: 0, errors: 0 });
    expect(report.phases.find((p: { phase: string }) => p.phase === 'PROMOTED').requests).toBeGreaterThan(0);
    expect(report.sourceOfTruth).toBe('new');
    expect(report.writes.presentOnLegacy).toEqual(report.writes.acknowledged);
    expect(report.writes.presentOnNew).toEqual(report.writes.acknowledged);
    expect(report.verify.every((v: { equal: boolean }) => v.equal)).toBe(true);
    console.log(`demo (--soak 1): ${((Date.now() - t0) / 1000).toFixed(1)} s wall, ${report.phases.reduce((a: number, p: { requests: number }) => a + p.requests, 0)} requests, promote pause ${report.promote.pausedMs} ms`);
  }, 240_000);

  it('--legacy sqlite: an SQLite file cut over to PostgreSQL, every phase to PROMOTED, zero non-2xx, exit 0', async () => {
    const t0 = Date.now();
    const r = await cli(['demo', '--legacy', 'sqlite', '--soak', '1', '--rows', '1000', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    const phases = report.phases.map((p: { phase: string }) => p.phase);
    expect(phases).toEqual(expect.arrayContaining(['CAPTURE', 'BACKFILL', 'VERIFY', 'SHIFTING 100%', 'PROMOTE', 'PROMOTED']));
    for (const p of report.phases) expect(p, p.phase).toMatchObject({ non2xx: 0, errors: 0 });
    expect(report.sourceOfTruth).toBe('new');
    expect(report.writes.presentOnLegacy).toEqual(report.writes.acknowledged);
    expect(report.writes.presentOnNew).toEqual(report.writes.acknowledged);
    expect(report.verify.map((v: { table: string }) => v.table).sort()).toEqual(['public.accounts', 'public.documents', 'public.sessions']);
    expect(report.verify.every((v: { equal: boolean }) => v.equal)).toBe(true);
    console.log(`demo --legacy sqlite (--soak 1): ${((Date.now() - t0) / 1000).toFixed(1)} s wall, ${report.phases.reduce((a: number, p: { requests: number }) => a + p.requests, 0)} requests, promote pause ${report.promote.pausedMs} ms`);
  }, 240_000);

  it('--legacy refuses an unknown kind with exit 1', async () => {
    const r = await cli(['demo', '--legacy', 'oracle']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--legacy: expected postgres or sqlite, not oracle/);
  });
});
