// Invariant 3 in the state record: reads go to the new database only once a
// verify of every replicated table found it equal since the copy last started.
// Pure mutations (and parts of them) the state store applies atomically, so the
// API, the CLI acting on the store directly and every proxy of a fleet decide alike.
import type { Phase } from '../common/live-state.ts';
import { readsAllowedIn } from './phases.ts';
import { Refused } from './refused.ts';
import type { ControlRecord, Mutation } from './state/store.ts';

export interface VerifyOutcome {
  passed: boolean;
  /** One line: what was compared and what differed. */
  summary: string;
}

type VerifyFields = Partial<Pick<ControlRecord, 'verifiedAt' | 'verifyResult' | 'tripped'>>;

const now = () => new Date().toISOString();

/**
 * A verify's result. A pass is what lets reads start; a failure takes back any
 * earlier pass and, if reads already go to the other database, trips them back
 * to the source of truth at once (it has just been shown not to be current).
 */
export function recordVerify(outcome: VerifyOutcome, at = now()): Mutation {
  return (cur) => {
    if (outcome.passed) return { verifiedAt: at, verifyResult: `passed ${at}: ${outcome.summary}` };
    const serving = readsAllowedIn(cur.phase) && cur.readPercent > 0 && !cur.tripped;
    return { verifiedAt: null, verifyResult: `FAILED ${at}: ${outcome.summary}`, ...(serving ? { tripped: `verify found differences: ${outcome.summary}` } : {}) };
  };
}

/**
 * Phases in which the copy starts (again): whatever an earlier verify compared
 * is about to be replaced, and before CAPTURE nothing keeps the new database current.
 */
const COPY_RESTARTS: readonly Phase[] = ['NOT_STARTED', 'PREFLIGHT', 'BACKUP', 'CAPTURE', 'BACKFILL'];

/** The verify fields on entering `to`: a pass recorded before the copy (re)started no longer counts. */
export function onEnterPhase(cur: ControlRecord, to: Phase, at = now()): VerifyFields {
  if (!COPY_RESTARTS.includes(to) || (!cur.verifiedAt && !cur.verifyResult) || cur.verifyResult?.startsWith('stale')) return {};
  return { verifiedAt: null, verifyResult: `stale since ${at}: phase ${to} (the copy starts over); run cutover verify again` };
}

/**
 * Something changed under what a pass compared (capture removed by hand, DDL
 * the proxy let through): the pass no longer counts, and the next SHIFTING
 * needs a new verify (or --force). Only a counting pass is replaced: a failure
 * or an override already blocks, and says more than "stale" would.
 */
export function staleVerify(cause: string, at = now()): Mutation {
  // FINALIZED: reads already all go to the new database, nothing left to gate
  return (cur) => (cur.verifiedAt && cur.phase !== 'FINALIZED' ? { verifiedAt: null, verifyResult: `stale since ${at}: ${cause}; run cutover verify again` } : null);
}

/**
 * Entering SHIFTING from a phase where reads did not go to the new database:
 * refused (409) without a recorded pass, unless forced, and a forced entry is
 * written down as such (an audit row of its own, and what status shows).
 */
export function requireVerified(cur: ControlRecord, what: string, force: boolean, at = now()): VerifyFields {
  if (cur.verifiedAt) return {};
  // the last real result stays in view; an earlier override is in the audit log (nesting them would grow without end)
  const last = cur.verifyResult && !cur.verifyResult.startsWith('overridden') ? ` (last: ${cur.verifyResult})` : '';
  if (force) return { verifyResult: `overridden ${at}: ${what} --force sent reads to the new database without a passing verify${last}` };
  const why = cur.verifyResult ? `last verify: ${cur.verifyResult}` : 'no verify recorded';
  throw new Refused(`${what}: reads to the new database need a passing verify of every replicated table (${why}); run cutover verify first (or, to go on without one: cutover phase SHIFTING --force, or cutover reads N --force)`, 409, { phase: cur.phase, verifiedAt: cur.verifiedAt, verifyResult: cur.verifyResult });
}

/**
 * A rollback after promote leaves the new database current by construction: it
 * was the source of truth until this moment, and from now on it is the mirror
 * again, written before each commit. Reads may go back to it (ROLLED_BACK →
 * SHIFTING) without another verify, which on a large database would take hours
 * while the legacy side carries every read alone.
 */
export function afterPromotedRollback(at = now()): VerifyFields {
  return { verifiedAt: at, verifyResult: `not needed since ${at}: the new database was the source of truth until the rollback after promote` };
}
