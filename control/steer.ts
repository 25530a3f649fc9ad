// What each steering command does to the state record, as pure mutations the
// store applies atomically: set reads, step, roll back, move phase. The API and
// the CLI acting on the store directly share them, so both refuse the same way.
import type { Phase } from '../common/live-state.ts';
import { assertTransition, readsAllowedIn } from './phases.ts';
import { Refused } from './refused.ts';
import type { ControlRecord, Mutation } from './state/store.ts';
import { onEnterPhase, requireVerified } from './verify-gate.ts';

/** Index of the last plan step at or below `percent` (-1: below the first step). */
export function planPosition(steps: readonly number[], percent: number): number {
  let at = -1;
  steps.forEach((p, i) => {
    if (p <= percent) at = i;
  });
  return at;
}

/** Phases from which reads to the new database may start (moving to SHIFTING). */
const START_SHIFTING: readonly Phase[] = ['VERIFY', 'ROLLED_BACK'];

function enterShifting(cur: ControlRecord, what: string, force = false): Partial<ControlRecord> {
  if (cur.phase === 'SHIFTING' || cur.phase === 'PROMOTED') return {};
  if (START_SHIFTING.includes(cur.phase)) {
    assertTransition(cur.phase, 'SHIFTING');
    return { phase: 'SHIFTING', ...requireVerified(cur, what, force) };
  }
  throw new Refused(`${what}: reads to the new database need phase VERIFY, SHIFTING, ROLLED_BACK or PROMOTED (${whyNoReads(cur.phase)})`, 409, { phase: cur.phase });
}

/** What the operator can do about it: "finish the backfill" is no answer once the migration is over. */
function whyNoReads(phase: Phase): string {
  if (phase === 'FINALIZED') return 'phase is FINALIZED: every read already goes to the new database, the only one left';
  if (phase === 'FAILED') return 'phase is FAILED: start over with cutover phase NOT_STARTED';
  return `phase is ${phase}; finish backfill and verify first`;
}

/** `reads N`: the operator's override; also clears a trip (the "resume"). `force`: start reads without a passing verify. */
export function setReads(steps: readonly number[], percent: number, opts: { force?: boolean } = {}): Mutation {
  return (cur) => ({
    ...(percent > 0 ? enterShifting(cur, `reads ${percent}`, opts.force) : {}),
    readPercent: percent,
    planStep: planPosition(steps, percent),
    tripped: null,
  });
}

/** The next plan step after the current read percent (gates are checked by the caller). */
export function nextStep(steps: readonly number[], cur: ControlRecord): number {
  const from = cur.phase === 'SHIFTING' || cur.phase === 'PROMOTED' ? cur.readPercent : 0;
  return steps.findIndex((p) => p > from);
}

export function step(steps: readonly number[]): Mutation {
  return (cur) => {
    const patch = enterShifting(cur, 'step');
    const i = nextStep(steps, cur);
    if (i < 0) throw new Refused(`step: the plan is complete (reads at ${cur.readPercent} %); next: cutover promote`, 409, { planStep: cur.planStep });
    return { ...patch, readPercent: steps[i]!, planStep: i, tripped: null };
  };
}

/** Reads back to 0 %; in a phase where the new database takes writes, the phase becomes ROLLED_BACK. */
export function rollback(): Mutation {
  return (cur) => {
    if (cur.phase === 'FINALIZED') throw new Refused('rollback: the migration is FINALIZED; nothing to roll back to', 409, { phase: cur.phase });
    if (cur.phase === 'PROMOTED') throw new Refused('rollback after promote swaps the databases\' roles back: it needs the running proxy (cutover rollback --control host:port)', 409, { phase: cur.phase });
    const rolls = cur.phase === 'CAPTURE' || cur.phase === 'BACKFILL' || cur.phase === 'VERIFY' || cur.phase === 'SHIFTING';
    if (!rolls && cur.readPercent === 0) return null;
    return { ...(rolls ? { phase: 'ROLLED_BACK' as const } : {}), readPercent: 0, planStep: -1 };
  };
}

/** Phases only their own command may enter (they do work beyond the record). */
const OWN_COMMAND: Partial<Record<Phase, string>> = { PROMOTED: 'cutover promote', FINALIZED: 'cutover finalize' };

/**
 * `PUT /phase`: one legal move; leaving the phases that serve reads from the new side takes reads to 0 %.
 * SHIFTING needs a passing verify unless `force`; a phase that starts the copy over makes an earlier pass stale.
 */
export function setPhase(to: Phase, opts: { viaApi?: boolean; force?: boolean } = {}): Mutation {
  return (cur) => {
    // the swap in progress ends in a phase of its own: a move now would be overwritten or contradict it
    if (cur.paused) throw new Refused(`phase ${to}: a promote, rollback or finalize is in progress (new transactions are paused); try again when it ends`, 409, { from: cur.phase, to });
    assertTransition(cur.phase, to);
    if (to === 'NOT_STARTED' && cur.sourceOfTruth === 'new') {
      throw new Refused('phase NOT_STARTED: the new database is the source of truth (promoted); starting over would copy the stale legacy database over its writes', 409, { from: cur.phase, to });
    }
    const own = OWN_COMMAND[to];
    if (opts.viaApi && own) throw new Refused(`phase ${to} is entered with ${own}, not by setting it`, 409, { from: cur.phase, to });
    // after promote, ROLLED_BACK is the swap back: set alone it left the new database the source of truth under a phase saying otherwise
    if (cur.phase === 'PROMOTED' && to === 'ROLLED_BACK') {
      throw new Refused('phase ROLLED_BACK from PROMOTED is entered with cutover rollback, which swaps the databases\' roles back; set alone it would leave the new database the source of truth', 409, { from: cur.phase, to });
    }
    const verify = to === 'SHIFTING' ? requireVerified(cur, `phase ${to}`, opts.force ?? false) : onEnterPhase(cur, to);
    return readsAllowedIn(to) && to !== 'SHIFTING' ? { phase: to, ...verify } : { phase: to, readPercent: 0, planStep: -1, ...verify };
  };
}
