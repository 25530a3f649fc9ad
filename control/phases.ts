// The migration's phase machine: which phase may follow which, and why a move
// is refused. Pure: the state store applies a move only if this table allows it.
import type { Phase } from '../common/live-state.ts';
import { Refused } from './refused.ts';

export type { Phase };

export const PHASES: readonly Phase[] = [
  'NOT_STARTED', 'PREFLIGHT', 'BACKUP', 'CAPTURE', 'BACKFILL', 'VERIFY', 'SHIFTING', 'PROMOTED', 'FINALIZED', 'ROLLED_BACK', 'FAILED',
];

/**
 * Legal moves. Forward one phase at a time, as Vitess MoveTables walks
 * create → copy → switch reads → switch writes → complete; ROLLED_BACK is the
 * "reverse traffic" of any phase where the new database already receives
 * writes (CAPTURE..PROMOTED); FAILED is reachable from every phase before
 * PROMOTED. FINALIZED is final (like MoveTables Complete): nothing undoes it.
 * Like MoveTables Cancel after SwitchTraffic, FAILED is refused once promoted:
 * the new database holds writes the legacy one lacks, so "start over" would
 * copy the stale side over them; the ways out are rollback and finalize.
 */
const NEXT: Record<Phase, readonly Phase[]> = {
  NOT_STARTED: ['PREFLIGHT', 'FAILED'],
  PREFLIGHT: ['BACKUP', 'FAILED'],
  BACKUP: ['CAPTURE', 'FAILED'],
  CAPTURE: ['BACKFILL', 'ROLLED_BACK', 'FAILED'],
  // a verify that found differences may send the operator back to copy again
  BACKFILL: ['VERIFY', 'ROLLED_BACK', 'FAILED'],
  VERIFY: ['SHIFTING', 'BACKFILL', 'ROLLED_BACK', 'FAILED'],
  SHIFTING: ['PROMOTED', 'ROLLED_BACK', 'FAILED'],
  PROMOTED: ['FINALIZED', 'ROLLED_BACK'],
  FINALIZED: [],
  // re-step from 0 %, or start over from capture (e.g. after capture was removed)
  ROLLED_BACK: ['SHIFTING', 'CAPTURE', 'FAILED'],
  // like MoveTables Cancel: a failed migration is started again from the beginning
  FAILED: ['NOT_STARTED'],
};

export function isPhase(s: string): s is Phase {
  return (PHASES as readonly string[]).includes(s);
}

export function nextPhases(from: Phase): readonly Phase[] {
  return NEXT[from];
}

/** Why `from → to` is refused, or null when it is legal. */
export function refusal(from: Phase, to: Phase): string | null {
  if (from === to) return `already in phase ${to}`;
  if (NEXT[from].includes(to)) return null;
  if (from === 'PROMOTED' && to === 'FAILED') return 'illegal phase transition PROMOTED → FAILED: the new database has taken the writes since promote; go back with cutover rollback (roles swap back) or on with cutover finalize';
  const allowed = NEXT[from];
  return allowed.length
    ? `illegal phase transition ${from} → ${to}: from ${from} only ${allowed.join(', ')}`
    : `illegal phase transition ${from} → ${to}: ${from} is final`;
}

/** An illegal move: HTTP 409 naming both phases, exit 1 on the CLI. */
export class PhaseError extends Refused {
  constructor(readonly from: Phase, readonly to: Phase, message: string) {
    super(message, 409, { from, to });
  }
}

export function assertTransition(from: Phase, to: Phase): void {
  const why = refusal(from, to);
  if (why) throw new PhaseError(from, to, why);
}

/** Phases in which the new database holds every write: reads may go there (after VERIFY). */
export function readsAllowedIn(phase: Phase): boolean {
  return phase === 'SHIFTING' || phase === 'PROMOTED';
}

/** The table as Markdown rows, for the README and `cutover status --detailed`. */
export function transitionTable(): string {
  return PHASES.map((p) => `| \`${p}\` | ${NEXT[p].length ? NEXT[p].map((n) => `\`${n}\``).join(', ') : '— (final)'} |`).join('\n');
}
