// How many session connections this proxy holds open to the database that is
// not the source of truth (the target, until promote), for routed and shadow
// reads. Without a limit every client session that once read from the target
// keeps a connection there, so an application with as many connections as the
// target allows fills it: the mirror's appliers are then refused, and each
// refused session open counted as a target failure, so a healthy target failed
// the error-rate gate. At the limit, or for a moment after the database said
// it has no room (53300), a routed read runs on the source, which is always
// correct; it is counted, not held against the target. PgBouncer's
// max_db_connections plays the same part.
import { pgClient } from '../common/pg-config.ts';
import type { Side } from '../common/live-state.ts';
import type { Logger } from '../common/log.ts';
import { redactUrl } from '../common/urls.ts';
import { APPLY_POOL_MAX } from './mirror/apply.ts';
import { mirrorMetrics } from './mirror/metrics.ts';

/** After a database refused a session for lack of room, reads stay on the source this long before the next try. */
const FULL_BACKOFF_MS = 1_000;
/** A refusal for lack of room is logged at most this often (each session would otherwise log its own). */
const FULL_LOG_EVERY_MS = 10_000;
/** An unanswered probe of a database's room is tried again after this long. */
const PROBE_RETRY_MS = 5_000;
/** Connections the automatic limit keeps for the mirror's appliers on even a small server. */
const APPLIERS_MIN = 10;
/** Connections kept free beside the appliers: the drainer, the verifier, an operator's psql. */
const SPARE = 4;

/**
 * The automatic limit for a server allowing `room` ordinary connections: a
 * fifth of the room (at least APPLIERS_MIN, at most APPLY_POOL_MAX) is kept
 * for the appliers, a few connections stay spare, and the rest is shared among
 * the proxy's worker processes. Group commit keeps the appliers few: 60
 * writing clients kept 10 of them busy here.
 */
export function autoLimit(room: number, processes: number): number {
  const appliers = Math.min(APPLY_POOL_MAX, Math.max(APPLIERS_MIN, Math.floor(room / 5)));
  return Math.max(1, Math.floor((room - appliers - SPARE) / Math.max(1, processes)));
}

/**
 * One session connection counted against the limit. The session marks it used
 * on each read it routes; `reclaim` closes it if it is idle (false when it is
 * busy), so the limit can pass it to a session that has reads to route.
 */
export interface ReadLease {
  used: number;
  reclaim?: () => boolean;
  give(): void;
}

/** While sessions are turned away, a connection idle this long is taken back from its session. */
const RECLAIM_IDLE_MS = 2_000;
/** Idle this long, a connection is closed even with nobody waiting (PgBouncer's server_idle_timeout). */
const IDLE_CLOSE_MS = 600_000;
const SWEEP_MS = 1_000;

export class TargetSessions {
  private readonly open: Record<Side, number> = { legacy: 0, new: 0 };
  private readonly leases = new Set<ReadLease>();
  private keptAtSweep = 0;
  private readonly sweeper: NodeJS.Timeout;
  /** Per database: the limit, 0 for none, undefined until the automatic one is known. */
  private readonly limits: Partial<Record<Side, number>>;
  private readonly probing = new Set<Side>();
  private readonly nextProbe: Record<Side, number> = { legacy: 0, new: 0 };
  private readonly fullUntil: Record<Side, number> = { legacy: 0, new: 0 };
  private fullLogged = 0;
  /** Routed and shadow reads that ran on the source only because of the limit or a full database. */
  keptOnSource = 0;

  constructor(
    /** The configured limit (`targetSessions`): 0 for none, undefined for automatic. */
    configured: number | undefined,
    /** Each PostgreSQL side's URL; an SQLite side has no connections to count. */
    private readonly urls: Partial<Record<Side, string>>,
    private readonly processes: number,
    private readonly log: Logger,
  ) {
    this.limits = configured === undefined ? {} : { legacy: configured, new: configured };
    for (const side of ['legacy', 'new'] as const) if (!urls[side]) this.limits[side] = 0;
    // known before the first reads arrive, where it can be
    this.limitOf('new');
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
  }

  /**
   * Sessions of a pool mostly sit idle, and one that read once would keep its
   * connection for good: while others are turned away, the idle ones give
   * theirs back (the session opens another when it next routes a read).
   */
  private sweep(): void {
    const waiting = this.keptOnSource !== this.keptAtSweep;
    this.keptAtSweep = this.keptOnSource;
    const now = Date.now();
    for (const lease of [...this.leases]) {
      const idle = now - lease.used;
      if ((waiting && idle >= RECLAIM_IDLE_MS) || idle >= IDLE_CLOSE_MS) lease.reclaim?.();
    }
  }

  /** For status: per database, connections open and the limit (null: not known yet, 0: none). */
  snapshot() {
    const of = (side: Side) => ({ open: this.open[side], limit: this.limits[side] ?? null });
    return { legacy: of('legacy'), new: of('new'), keptOnSource: this.keptOnSource };
  }

  /** A lease on one session connection to `side`, or null: the read stays on the source. */
  take(side: Side): ReadLease | null {
    const limit = this.limitOf(side);
    if (Date.now() < this.fullUntil[side] || (limit > 0 && this.open[side] >= limit)) {
      this.kept();
      return null;
    }
    this.open[side]++;
    let given = false;
    const lease: ReadLease = {
      used: Date.now(),
      give: () => {
        if (given) return;
        given = true;
        this.open[side]--;
        this.leases.delete(lease);
      },
    };
    this.leases.add(lease);
    return lease;
  }

  /** `side` refused a session for lack of room (53300): reads stay on the source for a moment. */
  full(side: Side, reason: string): void {
    this.fullUntil[side] = Date.now() + FULL_BACKOFF_MS;
    this.kept();
    if (Date.now() - this.fullLogged < FULL_LOG_EVERY_MS) return;
    this.fullLogged = Date.now();
    this.log.warn({ side, reason, sessionsOpen: this.open[side], limit: this.limits[side] ?? null }, 'the database has no room for another session: reads stay on the source (lower targetSessions, or raise its max_connections)');
  }

  private kept(): void {
    this.keptOnSource++;
    mirrorMetrics.keptOnSource.inc();
  }

  private limitOf(side: Side): number {
    const known = this.limits[side];
    if (known !== undefined) return known;
    if (!this.probing.has(side) && Date.now() >= this.nextProbe[side]) void this.probe(side);
    return 0;
  }

  /** Reads the server's room once; until then (or if it cannot be read) sessions are not limited. */
  private async probe(side: Side): Promise<void> {
    this.probing.add(side);
    const client = pgClient(this.urls[side]!, { connectionTimeoutMillis: 3_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const r = await client.query<{ room: number }>(
        `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
                - coalesce(current_setting('reserved_connections', true)::int, 0) AS room`);
      const limit = autoLimit(Number(r.rows[0]!.room), this.processes);
      this.limits[side] = limit;
      this.log.info({ side, room: Number(r.rows[0]!.room), limit }, 'session connections for reads limited (targetSessions)');
    } catch (e) {
      // asked again on a later read: an unreachable target is the breaker's business, not this one's
      this.log.debug({ side, reason: redactUrl((e as Error).message) }, "cannot read the database's max_connections yet");
      this.nextProbe[side] = Date.now() + PROBE_RETRY_MS;
    } finally {
      this.probing.delete(side);
      await client.end().catch(() => undefined);
    }
  }
}
