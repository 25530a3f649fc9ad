// A verify's result, written where the phase gate reads it: through the proxy's
// API when one answers (every proxy of a fleet sees it), else into the state
// store directly. With neither there is no migration to record it in, which is
// no failure of the comparison itself.
import type { VerifyReport } from '../backfill/verify/run-verify.ts';
import type { Config } from '../common/config.ts';
import { CliError } from '../common/errors.ts';
import { apiOrStore, NoStore } from './api-or-store.ts';
import { recordVerify, staleVerify, type VerifyOutcome } from './verify-gate.ts';

export interface Recorded {
  recorded: boolean;
  /** One line for the operator: where it went, or why not. */
  note: string;
  /** Not recorded for a reason the operator should look at (a proxy or store that refused). */
  warning: boolean;
}

/**
 * What a report proves. `left`: replicated tables it did not compare
 * (verify-scope.ts); a subset that is equal proves nothing about the others
 * (null: nothing to record), while a subset with differences still takes a pass back.
 */
export function verifyOutcome(r: VerifyReport, left: readonly string[]): VerifyOutcome | null {
  const differing = [...r.tables.filter((t) => !t.equal).map((t) => t.table), ...r.uncompared.map((u) => u.table)];
  const total = r.tables.length + r.uncompared.length;
  if (differing.length) {
    return { passed: false, summary: `${differing.length} of ${total} table(s) differ: ${fewByName(differing)}` };
  }
  if (left.length) return null;
  const rows = r.tables.reduce((a, t) => a + t.sourceRows, 0);
  const repaired = r.tables.reduce((a, t) => a + (t.repaired ?? 0), 0);
  return { passed: true, summary: `all ${total} table(s) equal (${rows} rows${repaired ? `; ${repaired} row(s) repaired first` : ''})` };
}

/** Tables in one line: at most five by name, the rest counted. */
export function fewByName(tables: readonly string[]): string {
  return tables.slice(0, 5).join(', ') + (tables.length > 5 ? ` and ${tables.length - 5} more` : '');
}

/** One line naming the replicated tables a verify left out. */
export function notComparedLine(left: readonly string[]): string {
  return `${left.length} replicated table(s) not compared: ${fewByName(left)} (captured on the source, or in the configured tables)`;
}

/** `left`: as for verifyOutcome, named when nothing is recorded for want of them. */
export async function recordVerifyResult(cfg: Config, outcome: VerifyOutcome | null, left: readonly string[] = []): Promise<Recorded> {
  if (!outcome) return { recorded: false, note: `result not recorded: ${notComparedLine(left)}; reads may start only after a verify of every replicated table`, warning: false };
  const reason = `cutover verify: ${outcome.passed ? 'passed' : 'differences found'}`;
  try {
    const s = await apiOrStore(cfg, 'POST', '/verify', { ...outcome, reason }, { mutate: recordVerify(outcome), reason });
    const where = s.direct ? `the state store ${(s.store as { where: string }).where} (no proxy answered)` : `the proxy at ${cfg.control}`;
    return { recorded: true, note: `result recorded in ${where}${outcome.passed ? '; reads may now start' : '; reads cannot start until a verify passes'}`, warning: false };
  } catch (e) {
    if (e instanceof NoStore) return { recorded: false, note: `result not recorded: ${e.message}`, warning: false };
    if (e instanceof CliError) return { recorded: false, note: `result not recorded: ${e.message}`, warning: true };
    throw e;
  }
}

/**
 * A recorded pass no longer counts: `cause` changed what it compared. Through
 * the proxy when one answers, else in the state store; with neither there is
 * no pass to clear.
 */
export async function clearVerifyPass(cfg: Config, cause: string, reason: string): Promise<Recorded> {
  try {
    const s = await apiOrStore(cfg, 'POST', '/verify/stale', { cause, reason }, { mutate: staleVerify(cause), reason });
    // stale by another cause too: a proxy may have seen the same change first (capture gone)
    const cleared = typeof s.verifyResult === 'string' && s.verifyResult.startsWith('stale') && !s.verifiedAt;
    return { recorded: cleared, note: cleared ? `verify: ${s.verifyResult as string}` : '', warning: false };
  } catch (e) {
    if (e instanceof NoStore) return { recorded: false, note: '', warning: false };
    if (e instanceof CliError) return { recorded: false, note: `a recorded verify pass could not be cleared: ${e.message}; the next cutover phase SHIFTING may let reads start without a new verify`, warning: true };
    throw e;
  }
}

/** What a command that cleared a pass adds to its output: a line after its own (none if nothing was said), and JSON fields. */
export function clearedOutput(cleared: Recorded | null): { line: string; json: { verifyCleared: boolean; verifyNote?: string } } {
  return {
    line: cleared?.note ? `\n${cleared.warning ? 'warning: ' : ''}${cleared.note}` : '',
    json: { verifyCleared: cleared?.recorded ?? false, ...(cleared?.note ? { verifyNote: cleared.note } : {}) },
  };
}

/**
 * The source of truth the migration's state records ('new' after promote), or
 * null with neither a proxy nor a state store to ask.
 */
export async function recordedSourceOfTruth(cfg: Config): Promise<'legacy' | 'new' | null> {
  try {
    const s = await apiOrStore(cfg, 'GET', '/status', undefined, { mutate: null, reason: 'cutover verify: which side is the source of truth' });
    return s.sourceOfTruth === 'new' ? 'new' : 'legacy';
  } catch (e) {
    if (e instanceof NoStore) return null;
    throw e;
  }
}
