// The state-record side of promote, rollback after promote and finalize, as
// pure mutations the store applies atomically: enter the pause (refused with
// the reason when the move is not allowed), leave it with the roles swapped,
// or leave it with nothing changed.
import type { Phase, Side } from '../../common/live-state.ts';
import { assertTransition } from '../phases.ts';
import { Refused } from '../refused.ts';
import type { Mutation } from '../state/store.ts';
import { afterPromotedRollback } from '../verify-gate.ts';

export type SwapKind = 'promote' | 'rollback' | 'finalize';

/** The phase each operation ends in. */
export const END_PHASE: Record<SwapKind, Phase> = { promote: 'PROMOTED', rollback: 'ROLLED_BACK', finalize: 'FINALIZED' };

export interface PauseRules {
  kind: SwapKind;
  steps: readonly number[];
  force: boolean;
}

/** Pause every proxy for `kind`, if the record allows it. */
export function enterPause(rules: PauseRules): Mutation {
  return (cur) => {
    if (cur.paused) throw new Refused(`${rules.kind}: another promote, rollback or finalize is in progress (new transactions are paused)`, 409, { phase: cur.phase });
    const to = END_PHASE[rules.kind];
    if (rules.kind === 'rollback' || rules.kind === 'finalize') {
      if (cur.phase !== 'PROMOTED') throw new Refused(`${rules.kind}: needs phase PROMOTED (phase is ${cur.phase})`, 409, { from: cur.phase, to });
    } else {
      assertTransition(cur.phase, to);
      const last = rules.steps[rules.steps.length - 1]!;
      if (!rules.force && cur.readPercent < last) {
        throw new Refused(`promote: reads are at ${cur.readPercent} %, not yet at the last plan step (${last} %); finish the plan (cutover step / run) or promote --force`, 409, { readPercent: cur.readPercent, last });
      }
      if (!rules.force && cur.tripped) throw new Refused(`promote: reads are tripped (${cur.tripped}); resume with cutover reads N once the new database is healthy, or promote --force`, 409, { tripped: cur.tripped });
    }
    return { paused: true };
  };
}

/** Resume with the roles swapped: `to` is the source of truth; reads stay on it until the operator says otherwise. */
export function completeSwap(kind: SwapKind, to: Side): Mutation {
  return (cur) => {
    const phase = END_PHASE[kind];
    // every kind: a phase an operator set while paused must not be overwritten
    assertTransition(cur.phase, phase);
    // back from PROMOTED the new database is current without a verify (verify-gate.ts says why)
    const verify = kind === 'rollback' && cur.phase === 'PROMOTED' ? afterPromotedRollback() : {};
    return { paused: false, sourceOfTruth: to, phase, readPercent: 0, planStep: -1, tripped: null, ...verify };
  };
}

/** Resume with nothing changed (the window passed, or a step failed). */
export function abandonPause(): Mutation {
  return (cur) => (cur.paused ? { paused: false } : null);
}
