// The promote pause as one session sees it: at a transaction boundary, a new
// statement waits (queued, never refused) while LiveState says paused, and
// wakes the moment the pause ends. Waits are counted for status and tests.
import type { LiveState } from '../common/live-state.ts';

export const pauseStats = { waits: 0, waiting: 0, maxWaitMs: 0, totalWaitMs: 0 };

/** Resolves when the pause is over, or when `cancel` is called (the session ended). */
export function waitWhilePaused(live: LiveState): { done: Promise<void>; cancel(): void } | null {
  if (!live.get().paused) return null;
  const started = Date.now();
  pauseStats.waits++;
  pauseStats.waiting++;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = () => {
      live.off('change', check);
      pauseStats.waiting--;
      const ms = Date.now() - started;
      pauseStats.totalWaitMs += ms;
      pauseStats.maxWaitMs = Math.max(pauseStats.maxWaitMs, ms);
      resolve();
    };
  });
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    finish();
  };
  const check = () => {
    if (!live.get().paused) end();
  };
  live.on('change', check);
  return { done, cancel: end };
}
