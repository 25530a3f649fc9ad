// `cutover resume`: lifts the pause that a promote, rollback after promote or
// finalize leaves behind when the proxy running it dies between its pause and
// its resume — until then every proxy of the fleet queues new transactions.
// The swap never published new roles, so the recorded ones stand; lifting the
// pause is safe once capture sits where they say (on the source of truth,
// and nowhere else): a flip cut short may have retired it there or installed
// it on the other side. Nothing was written while everything was paused, so no
// change row is lost by putting capture back.
import type { Side } from '../../common/live-state.ts';
import { installCaptureOn, removeCaptureOn } from '../../proxy/promote/database-steps.ts';
import { pastWindow, pausedSince } from '../pause.ts';
import { Refused } from '../refused.ts';
import type { AuditEntry, ControlRecord, Mutation } from '../state/store.ts';
import { abandonPause } from './mutations.ts';

export interface ResumeReport {
  sourceOfTruth: Side;
  /** How long the pause had been set, when the audit log says. */
  pausedForMs: number | null;
  captureTables: number;
}

export interface ResumeRequest {
  record: ControlRecord;
  history: AuditEntry[];
  urls: Record<Side, string | undefined>;
  tables?: string[];
  /** A pause younger than this may belong to a promote still running on another proxy (pauseWindowMs). */
  staleAfterMs: number;
  force: boolean;
  /** This process is itself running a swap right now. */
  swapping: boolean;
  change(mutate: Mutation, reason: string): Promise<unknown>;
  reason: string;
  /** Capture is back on the source of truth; traffic has not moved yet. */
  beforeLift?(): void;
}

export async function resumeInterrupted(r: ResumeRequest): Promise<ResumeReport> {
  if (!r.record.paused) throw new Refused('resume: no pause is set; nothing to resume', 409, { phase: r.record.phase });
  if (r.swapping) throw new Refused('resume: this proxy is running a promote, rollback or finalize right now; it lifts the pause itself', 409);
  const now = Date.now();
  const since = pausedSince(r.history);
  const age = since === null ? null : now - since;
  if (!r.force && age !== null && !pastWindow(since, r.staleAfterMs, now)) {
    throw new Refused(`resume: the pause was set ${(age / 1000).toFixed(0)} s ago and a promote may still be running on another proxy (it lifts the pause itself within its window); wait, or resume --force`, 409, { pausedForMs: age });
  }
  const sot = r.record.sourceOfTruth;
  const other: Side = sot === 'legacy' ? 'new' : 'legacy';
  const sotUrl = r.urls[sot];
  const otherUrl = r.urls[other];
  if (!sotUrl || !otherUrl) throw new Refused('resume: needs --source and --target: capture is put back where the recorded roles say before traffic flows', 409);
  await removeCaptureOn(otherUrl);
  const captureTables = await installCaptureOn(sotUrl, r.tables);
  r.beforeLift?.();
  await r.change(abandonPause(), r.reason);
  return { sourceOfTruth: sot, pausedForMs: age, captureTables };
}
