// Both directions a proxy may mirror in: legacy → new until promote, new →
// legacy after it. Each direction has its own applier (writing the mirror),
// breaker and drainer (reading the source of truth); `current` is the one
// LiveState.sourceOfTruth selects, so every session and the control plane
// switch together when the state store says the roles swapped.
import type { LiveState, Side } from '../../common/live-state.ts';
import type { Logger } from '../../common/log.ts';
import { APPLY_POOL_MAX, MirrorApplier, type ChangeApplier } from './apply.ts';
import { SqliteApplier } from './sqlite-apply.ts';
import { Drainer, type ChangeDrainer } from './drainer.ts';
import { SqliteDrainer } from './sqlite-drainer.ts';
import { TargetGuard } from './target-guard.ts';

export interface Direction {
  /** The source of truth of this direction: capture there, applies to the other side. */
  from: Side;
  applier: ChangeApplier;
  guard: TargetGuard;
  drainer: ChangeDrainer;
}

export interface SideUrls {
  legacy: string;
  new: string;
}

export class MirrorSides {
  private constructor(private readonly live: LiveState, readonly forward: Direction, readonly reverse: Direction) {}

  /** `sqliteLegacy`: the legacy side is this SQLite file (capture lives in the file, drained in-process). */
  static async start(urls: SideUrls, live: LiveState, log: Logger, synchronousCommit: string, sqliteLegacy: string | null = null): Promise<MirrorSides> {
    const direction = async (from: Side): Promise<Direction> => {
      const to: Side = from === 'legacy' ? 'new' : 'legacy';
      // into an SQLite legacy file after promote; PostgreSQL otherwise
      const applier = to === 'legacy' && sqliteLegacy ? new SqliteApplier(sqliteLegacy) : await pgApplier(urls[to], synchronousCommit);
      const drainer = from === 'legacy' && sqliteLegacy ? new SqliteDrainer(sqliteLegacy, applier, live, log) : new Drainer(urls[from], applier, live, log, 200, from);
      const guard = new TargetGuard(applier, live, log, (ms) => drainer.drained(ms));
      return { from, applier, guard, drainer };
    };
    const sides = new MirrorSides(live, await direction('legacy'), await direction('new'));
    // learn now whether capture is installed on the source of truth
    await sides.current.drainer.drainOnce().catch(() => 0);
    // both tick; only the drainer of the source of truth does any work
    sides.forward.drainer.start();
    sides.reverse.drainer.start();
    return sides;
  }

  get current(): Direction {
    return this.of(this.live.get().sourceOfTruth);
  }

  /** The direction whose source of truth is `from`. */
  of(from: Side): Direction {
    return from === 'legacy' ? this.forward : this.reverse;
  }

  async stop(): Promise<void> {
    for (const d of [this.forward, this.reverse]) {
      d.guard.shutdown();
      await d.drainer.stop();
      await d.applier.close();
    }
  }
}

async function pgApplier(url: string, synchronousCommit: string): Promise<MirrorApplier> {
  const applier = new MirrorApplier(url, APPLY_POOL_MAX, synchronousCommit);
  await applier.init();
  return applier;
}
