// Group commit of session applies: the changes of every session whose COMMIT
// is waiting at the same moment go to the mirror as one transaction (one
// write, one round trip, one COMMIT and fsync on the mirror) instead of one
// each.
//
// Why a batch may mix sessions: every change in a batch belongs to a source
// transaction that has not committed yet and still holds its row locks (the
// session applies before it commits). Two open transactions cannot both have
// changed the same row (row lock), nor one have inserted a key another deleted
// or inserted (unique check waits), nor one insert a child of a parent another
// is inserting or deleting (the foreign-key check locks the parent). So the
// sessions of one batch touch disjoint rows with no dependencies between them,
// every order of their changes gives the same mirror state, and a batch never
// holds two versions of one row out of order. Each session's own changes keep
// their order.
//
// Why a failure stays with its session: if the combined transaction fails,
// nothing of it committed, and each session's changes are applied again on
// their own; only a session whose own apply fails sees the error (and marks
// its keys dirty). A batch whose fate is unknown (connection lost around its
// COMMIT) is applied again too: upserts of full rows and deletes by key are
// idempotent, and no newer version of these rows can have reached the mirror
// meanwhile, since their source locks are still held.
import type { Change } from './apply.ts';
import { mirrorMetrics } from './metrics.ts';

interface Waiting {
  changes: Change[];
  resolve(): void;
  reject(e: unknown): void;
}

export class GroupCommit {
  private queue: Waiting[] = [];
  private scheduled = false;
  private inFlight = 0;

  constructor(
    /** The sessions' change lists, in one mirror transaction. */
    private readonly together: (lists: Change[][]) => Promise<void>,
    /** One session's changes, alone. */
    private readonly alone: (changes: Change[]) => Promise<void>,
    /** Batches on the wire at once; more sessions wait for the next batch, which gets larger. */
    private readonly maxInFlight = 64,
    /** A failure that is no session's own (the mirror unreachable): trying each alone would only fail slower. */
    private readonly sharedFailure: (e: unknown) => boolean = () => false,
  ) {}

  apply(changes: Change[]): Promise<void> {
    if (!changes.length) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ changes, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || !this.queue.length || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    // after this turn's I/O callbacks: every session whose drain answer arrived in it joins the batch
    setImmediate(this.flush);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (!batch.length) return;
    this.inFlight++;
    void this.run(batch).finally(() => {
      this.inFlight--;
      this.schedule();
    });
  };

  private async run(batch: Waiting[]): Promise<void> {
    mirrorMetrics.groupSessions.observe(batch.length);
    if (batch.length === 1) {
      const [w] = batch;
      await this.alone(w!.changes).then(w!.resolve, w!.reject);
      return;
    }
    try {
      await this.together(batch.map((w) => w.changes));
      for (const w of batch) w.resolve();
      return;
    } catch (e) {
      if (this.sharedFailure(e)) {
        for (const w of batch) w.reject(e);
        return;
      }
      // one session's bad change must not fail the others: each on its own below
      mirrorMetrics.groupFallbacks.inc();
    }
    await Promise.all(batch.map((w) => this.alone(w.changes).then(w.resolve, w.reject)));
  }
}
