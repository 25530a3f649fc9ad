// The demo's final table: per phase requests, non-2xx, errors and p99; writes
// acknowledged against writes present on each database; verify; wall time.
import { p99, type PhaseStats } from './load.ts';

export interface DemoReport {
  phases: { phase: string; requests: number; non2xx: number; errors: number; p99ms: number }[];
  writes: { acknowledged: Record<string, number>; presentOnLegacy: Record<string, number>; presentOnNew: Record<string, number> };
  backfill: Record<string, number>;
  verify: { table: string; equal: boolean; rows: [number, number] }[];
  promote: Record<string, unknown> | null;
  sourceOfTruth: string;
  readsServedByOtherSide: number;
  mirroredTransactions: number;
  /** Steps the gates rolled back (and the demo resumed), with the reason. */
  gateRollbacks: { phase: string; reason: string }[];
  wallSeconds: number;
}

export function phaseRows(phases: PhaseStats[]): DemoReport['phases'] {
  return phases.map((p) => ({ phase: p.phase, requests: p.requests, non2xx: p.non2xx, errors: p.errors, p99ms: Math.round(p99(p.latencies) * 10) / 10 }));
}

export function formatReport(r: DemoReport, ok: boolean): string[] {
  const out = ['', 'phase              requests  non-2xx  errors  p99 ms'];
  for (const p of r.phases) out.push(`${p.phase.padEnd(18)} ${String(p.requests).padStart(8)} ${String(p.non2xx).padStart(8)} ${String(p.errors).padStart(7)} ${String(p.p99ms).padStart(7)}`);
  const total = r.phases.reduce((a, p) => ({ requests: a.requests + p.requests, non2xx: a.non2xx + p.non2xx, errors: a.errors + p.errors }), { requests: 0, non2xx: 0, errors: 0 });
  out.push(`${'total'.padEnd(18)} ${String(total.requests).padStart(8)} ${String(total.non2xx).padStart(8)} ${String(total.errors).padStart(7)}`);
  out.push('', 'writes           acknowledged  on legacy  on new');
  for (const k of Object.keys(r.writes.acknowledged)) {
    out.push(`${k.padEnd(16)} ${String(r.writes.acknowledged[k]).padStart(12)} ${String(r.writes.presentOnLegacy[k]).padStart(10)} ${String(r.writes.presentOnNew[k]).padStart(7)}`);
  }
  out.push('', `verify: ${r.verify.map((v) => `${v.table} ${v.equal ? 'equal' : 'DIFFERENT'} (${v.rows[0]} rows)`).join(', ')}`);
  if (r.promote) out.push(`promote: new transactions paused ${String(r.promote.pausedMs)} ms (drain ${String(r.promote.drainMs)} ms, flip ${String(r.promote.flipMs)} ms); source of truth now the ${r.sourceOfTruth} database, mirrored into the legacy one`);
  out.push(`transactions mirrored before commit: ${r.mirroredTransactions}; reads served by the new database while shifting: ${r.readsServedByOtherSide}`);
  for (const g of r.gateRollbacks) out.push(`gates rolled reads back during ${g.phase} (${g.reason}); resumed`);
  out.push(`wall time ${r.wallSeconds.toFixed(1)} s — ${ok ? 'OK' : 'FAILED'}`);
  return out;
}
