// The pause a promote, rollback after promote or finalize sets: who is carrying
// it out, and whether it is left over from a proxy that died half-way. Read by
// `cutover status` (its exit code) and `cutover resume` (what it may lift).
import type { AuditEntry } from './state/store.ts';

let running = 0;

/** Whether this process is between a swap's pause and its resume. */
export const swapRunning = (): boolean => running > 0;

/** Marks this process as running a swap for as long as `run` takes. */
export async function runningSwap<T>(run: () => Promise<T>): Promise<T> {
  running++;
  try {
    return await run();
  } finally {
    running--;
  }
}

/** When the pause now set was set (the newest audit row turning it on), or null if the log does not go back that far. */
export function pausedSince(history: AuditEntry[]): number | null {
  const set = history.filter((h) => h.what === 'paused' && h.to === 'true').map((h) => Date.parse(h.at)).filter(Number.isFinite);
  return set.length ? Math.max(...set) : null;
}

/**
 * How long a pause may belong to a swap still running somewhere in the fleet: the promote window
 * plus the flip's allowance. Older, nobody is carrying it out.
 */
export const pauseWindowMs = (promoteTimeoutSeconds: number): number => (promoteTimeoutSeconds + 60) * 1000;

/**
 * The rule `cutover status` calls a pause stale by and `cutover resume` lifts one by without
 * --force: set longer ago than the window, or before the audit log read goes back (since null).
 */
export function pastWindow(since: number | null, windowMs: number, now = Date.now()): boolean {
  return since === null || now - since >= windowMs;
}

export interface PauseState {
  since: string | null;
  /** The process answering is itself running the swap that set it. */
  swappingHere: boolean;
  /**
   * Nobody is carrying it out: not this process, and older than any swap's window, so not one still
   * running on another proxy of a fleet either (the rule `cutover resume` lifts it by). New
   * transactions wait until `cutover resume`.
   */
  stale: boolean;
}

/**
 * The pause, when one is set; staleAfterMs: pauseWindowMs. history
 * null: the audit log could not be read, and a pause of unknown age is not called stale.
 */
export function pauseState(paused: boolean, history: AuditEntry[] | null, swapping: boolean, staleAfterMs: number, now = Date.now()): PauseState | null {
  if (!paused) return null;
  const since = history ? pausedSince(history) : null;
  const stale = !swapping && history !== null && pastWindow(since, staleAfterMs, now);
  return { since: since === null ? null : new Date(since).toISOString(), swappingHere: swapping, stale };
}
