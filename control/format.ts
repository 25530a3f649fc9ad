// Human-readable status for a terminal (`cutover status`); --json prints the document as is.
import type { GateResult } from './gates.ts';
import type { PauseState } from './pause.ts';
import type { AuditEntry } from './state/store.ts';

type Doc = Record<string, unknown>;

/** What the pause means for the operator: in progress here, maybe elsewhere, or left behind. */
function pausedLine(s: Doc): string {
  const p = s.pause as PauseState | null | undefined;
  const since = p?.since ? ` since ${p.since}` : '';
  if (p?.stale) return `PAUSED${since}: no proxy is carrying out the promote, rollback or finalize that set it (its proxy stopped half-way); new transactions wait until cutover resume`;
  if (p && !p.swappingHere) return `PAUSED${since}: new transactions wait; a promote, rollback or finalize may still be running on another proxy (if none is, cutover resume lifts it)`;
  return `PAUSED${since}: new transactions wait (a promote, rollback or finalize is in progress)`;
}

type ReadSessions = Record<'legacy' | 'new', { open: number; limit: number | null }> & { keptOnSource: number };

/** The proxy's session connections for reads on the database that is not the source of truth, against its limit. */
function readSessions(proxy: Doc, side: 'legacy' | 'new'): string {
  const r = proxy.readSessions as ReadSessions | null | undefined;
  if (!r) return '';
  const { open, limit } = r[side];
  const kept = r.keptOnSource ? `, ${r.keptOnSource} reads kept on the source for want of one` : '';
  return `; ${open}${limit ? ` of ${limit}` : ''} read connections on the ${side} database${kept}`;
}

/** The last verify, and whether it lets reads start: the one thing to do before SHIFTING. */
function verifyLine(s: Doc): string {
  const blocks = !s.verifiedAt && !['SHIFTING', 'PROMOTED', 'FINALIZED'].includes(String(s.phase));
  return `${String(s.verifyResult ?? 'none recorded')}${blocks ? '; reads to the new database start only once cutover verify passes' : ''}`;
}

export function formatStatus(s: Doc, detailed = false): string {
  const plan = s.plan as { steps: number[]; next: number | null } | undefined;
  const proxy = s.proxy as Doc | null;
  const target = s.target as Doc | null;
  const store = s.store as { kind: string; where: string } | undefined;
  const gates = (s.gates as { results: GateResult[] } | null)?.results ?? [];
  const lines = [
    `phase          ${s.phase}`,
    // after promote the read percent sends reads to the legacy database (the one that is not the source of truth)
    `${`reads to ${s.sourceOfTruth === 'new' ? 'legacy' : 'new'}`.padEnd(14)} ${s.effectiveReadPercent ?? (s.tripped ? 0 : s.readPercent)} %${s.tripped ? ` (set ${s.readPercent} %, tripped: ${s.tripped})` : ''}`,
  ];
  if (plan) lines.push(`plan           ${plan.steps.map((p, i) => (i === s.planStep ? `[${p}]` : String(p))).join(' → ')}${plan.next !== null ? `; next step ${plan.next} %` : '; complete'}`);
  if (s.verifyResult !== undefined) lines.push(`verify         ${verifyLine(s)}`);
  if (store) lines.push(`state store    ${store.kind} ${store.where}${s.degraded ? `  DEGRADED: ${s.degraded}` : ''}`);
  if (s.mirroring !== undefined) lines.push(`mirroring      ${s.mirroring ? 'on' : 'off'}; source of truth: ${s.sourceOfTruth}${s.paused ? `; ${pausedLine(s)}` : ''}`);
  else if (s.paused) lines.push(`pause          ${pausedLine(s)}`);
  if (proxy) lines.push(`sessions       ${proxy.sessionsOpen} open, ${proxy.sessionsOpened} since start; source ${proxy.sourceAvailable ? 'reachable' : 'UNREACHABLE'}${readSessions(proxy, s.sourceOfTruth === 'new' ? 'legacy' : 'new')}`);
  if (target) lines.push(`target         breaker ${s.breaker}, ${s.dirtyKeys} dirty keys, drain backlog ${s.drainBacklog}${detailed ? `; ${target.reads} reads, ${target.readErrors} read errors, ${target.sessionErrors ?? 0} reads that could not open a session, ${target.applies} mirrored transactions, ${target.applyErrors} apply errors, ${target.refusedKeys ?? 0} keys of refused COMMITs re-synced` : ''}`);
  if (gates.length) {
    lines.push('gates');
    for (const g of gates) lines.push(`  ${g.ok ? 'holds' : 'FAILS'}  ${g.gate.padEnd(13)} ${detailed || !g.ok ? g.detail : String(g.value === null ? '–' : typeof g.value === 'number' ? +g.value.toFixed(4) : g.value)}`);
  }
  if (!proxy) lines.push('(no proxy answered: read from the state store directly)');
  const history = (s.history as AuditEntry[] | undefined) ?? [];
  if (history.length) {
    lines.push('history');
    for (const h of history.slice(detailed ? -20 : -5)) lines.push(`  ${h.at}  ${h.what} ${h.from ?? '∅'} → ${h.to ?? '∅'}  (${h.actor}${h.reason ? `: ${h.reason}` : ''})`);
  }
  return lines.join('\n');
}
