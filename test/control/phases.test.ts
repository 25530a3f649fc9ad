import { describe, expect, it } from 'vitest';
import { PHASES, PhaseError, assertTransition, nextPhases, refusal } from '../../control/phases.ts';
import { initialRecord, applyMutation, type ControlRecord } from '../../control/state/store.ts';
import { planPosition, rollback, setPhase, setReads, step } from '../../control/steer.ts';
import { Refused } from '../../control/refused.ts';
import { completeSwap } from '../../control/promote/mutations.ts';

const rec = (patch: Partial<ControlRecord>): ControlRecord => ({ ...initialRecord(), ...patch });
const STEPS = [10, 25, 50, 75, 90, 100];
/** A verify of every table passed: reads may start (test/control/verify-gate.test.ts covers the gate itself). */
const VERIFIED = { verifiedAt: '2026-01-01T00:00:00.000Z', verifyResult: 'passed' };

describe('phase machine', () => {
  it('walks forward one phase at a time', () => {
    const path = ['NOT_STARTED', 'PREFLIGHT', 'BACKUP', 'CAPTURE', 'BACKFILL', 'VERIFY', 'SHIFTING', 'PROMOTED', 'FINALIZED'] as const;
    for (let i = 1; i < path.length; i++) expect(refusal(path[i - 1]!, path[i]!)).toBeNull();
  });

  it('refuses skipping ahead, naming both phases', () => {
    expect(refusal('CAPTURE', 'SHIFTING')).toMatch(/^illegal phase transition CAPTURE → SHIFTING: from CAPTURE only BACKFILL, ROLLED_BACK, FAILED$/);
    expect(() => assertTransition('NOT_STARTED', 'SHIFTING')).toThrow(PhaseError);
    try {
      assertTransition('NOT_STARTED', 'SHIFTING');
    } catch (e) {
      expect(e).toMatchObject({ from: 'NOT_STARTED', to: 'SHIFTING', status: 409 });
    }
  });

  it('ROLLED_BACK is reachable from CAPTURE..PROMOTED only, and leads back to SHIFTING or CAPTURE', () => {
    for (const p of PHASES) {
      const legal = refusal(p, 'ROLLED_BACK') === null;
      expect(legal, p).toBe(['CAPTURE', 'BACKFILL', 'VERIFY', 'SHIFTING', 'PROMOTED'].includes(p));
    }
    expect(nextPhases('ROLLED_BACK')).toEqual(['SHIFTING', 'CAPTURE', 'FAILED']);
  });

  it('FAILED from every phase before PROMOTED; FINALIZED is final', () => {
    for (const p of PHASES) if (p !== 'FINALIZED' && p !== 'FAILED' && p !== 'PROMOTED') expect(refusal(p, 'FAILED'), p).toBeNull();
    expect(refusal('PROMOTED', 'FAILED')).toMatch(/PROMOTED → FAILED: .*cutover rollback .*cutover finalize/);
    expect(nextPhases('FINALIZED')).toEqual([]);
    expect(refusal('FINALIZED', 'ROLLED_BACK')).toMatch(/FINALIZED is final/);
    expect(refusal('SHIFTING', 'SHIFTING')).toBe('already in phase SHIFTING');
  });
});

describe('steering mutations', () => {
  it('step moves VERIFY to SHIFTING at the first step, then up the plan, then refuses past the end', () => {
    let r = rec({ phase: 'VERIFY', ...VERIFIED });
    for (const want of STEPS) {
      r = applyMutation(r, step(STEPS), 't', 'step')!.after;
      expect(r).toMatchObject({ phase: 'SHIFTING', readPercent: want, planStep: STEPS.indexOf(want) });
    }
    expect(() => step(STEPS)(r)).toThrow(/plan is complete/);
  });

  it('step from ROLLED_BACK starts again from the first step; from CAPTURE it is refused', () => {
    expect(step(STEPS)(rec({ phase: 'ROLLED_BACK', ...VERIFIED }))).toMatchObject({ phase: 'SHIFTING', readPercent: 10, planStep: 0 });
    expect(() => step(STEPS)(rec({ phase: 'CAPTURE' }))).toThrow(Refused);
  });

  it('reads above 0 need a phase after verify; reads 0 are always allowed', () => {
    expect(() => setReads(STEPS, 25)(rec({ phase: 'BACKFILL' }))).toThrow(/need phase VERIFY, SHIFTING, ROLLED_BACK or PROMOTED \(phase is BACKFILL/);
    expect(setReads(STEPS, 0)(rec({ phase: 'BACKFILL' }))).toMatchObject({ readPercent: 0 });
    expect(setReads(STEPS, 30)(rec({ phase: 'SHIFTING', tripped: 'x' }))).toMatchObject({ readPercent: 30, planStep: 1, tripped: null });
    expect(planPosition(STEPS, 5)).toBe(-1);
  });

  it('rollback moves reads to 0 and the phase to ROLLED_BACK where the new side takes writes', () => {
    expect(rollback()(rec({ phase: 'SHIFTING', readPercent: 50, planStep: 2 }))).toEqual({ phase: 'ROLLED_BACK', readPercent: 0, planStep: -1 });
    expect(rollback()(rec({ phase: 'NOT_STARTED' }))).toBeNull();
    expect(() => rollback()(rec({ phase: 'PROMOTED' }))).toThrow(expect.objectContaining({ status: 409, message: expect.stringContaining('needs the running proxy') }));
  });

  it('setting a phase takes reads to 0 unless it serves reads; PROMOTED only through promote', () => {
    expect(setPhase('FAILED')(rec({ phase: 'SHIFTING', readPercent: 50 }))).toMatchObject({ phase: 'FAILED', readPercent: 0 });
    expect(() => setPhase('PROMOTED', { viaApi: true })(rec({ phase: 'SHIFTING' }))).toThrow(/entered with cutover promote/);
  });

  it('no phase change while a swap holds the pause, and the swap does not overwrite one made before it ends', () => {
    expect(() => setPhase('FAILED')(rec({ phase: 'SHIFTING', paused: true }))).toThrow(expect.objectContaining({ status: 409, message: expect.stringMatching(/in progress/) }));
    for (const kind of ['promote', 'rollback', 'finalize'] as const) {
      expect(() => completeSwap(kind, 'legacy')(rec({ phase: 'FAILED', paused: true })), kind).toThrow(/illegal phase transition FAILED/);
    }
    expect(completeSwap('finalize', 'new')(rec({ phase: 'PROMOTED', paused: true }))).toMatchObject({ phase: 'FINALIZED', paused: false });
    // a record left FAILED with the new side as source of truth (an older version allowed it) does not start over
    expect(() => setPhase('NOT_STARTED')(rec({ phase: 'FAILED', sourceOfTruth: 'new' }))).toThrow(/source of truth/);
    expect(setPhase('NOT_STARTED')(rec({ phase: 'FAILED' }))).toMatchObject({ phase: 'NOT_STARTED' });
  });

  it('audit rows name each field that changed', () => {
    const r = applyMutation(rec({ phase: 'SHIFTING', readPercent: 50, planStep: 2 }), rollback(), 'me', 'because')!;
    expect(r.audit.map((a) => [a.what, a.from, a.to, a.actor, a.reason])).toEqual([
      ['phase', 'SHIFTING', 'ROLLED_BACK', 'me', 'because'],
      ['readPercent', '50', '0', 'me', 'because'],
      ['planStep', '2', '-1', 'me', 'because'],
    ]);
    expect(r.after.version).toBe(1);
  });
});
