// Read connections of ended sessions, kept for the next session that logs in
// the same way. A session's first routed read used to open its own connection
// to the target (a TCP connect, SCRAM, a server process forked): 13 ms on a
// loaded machine where the read itself took 0.8, and a client with a 100 ms
// query_timeout failed there. PgBouncer keeps server connections between
// clients for the same reason. A connection is handed on only to a session
// whose start-up is the same in every parameter (user, role, database, the
// source's settings), after DISCARD ALL has returned it to that start-up:
// no SET, prepared statement, temporary table or advisory lock of the session
// before it survives.
import { Collect, type BackendLink } from './backend-link.ts';
import type { CancelTarget } from './cancel.ts';
import { queryMessage, terminateMessage } from './messages.ts';
import type { ReadLease } from './target-sessions.ts';

/** A parked connection not taken again within this long is closed (the target's process ends). */
const PARKED_IDLE_MS = 60_000;
/** How long DISCARD ALL may take before the connection is closed instead of kept. */
const RESET_MS = 5_000;
/**
 * Connections parked at most, all start-ups together: a burst of sessions
 * ending leaves no crowd of idle processes, and an application whose every
 * connection starts up differently (an application_name of its own each) does
 * not fill the limit on read connections with ones nobody takes.
 */
const PARKED_MAX = 32;

export interface Parked {
  link: BackendLink;
  cancel: CancelTarget | null;
  lease?: ReadLease;
}

interface Entry extends Parked {
  key: string;
  since: number;
}

export class ParkedReads {
  private readonly byKey = new Map<string, Entry[]>();
  private readonly sweeper: NodeJS.Timeout;
  private stopped = false;

  constructor() {
    this.sweeper = setInterval(() => this.sweep(), PARKED_IDLE_MS / 4).unref();
  }

  /** How many connections wait now. */
  private get size(): number {
    let n = 0;
    for (const list of this.byKey.values()) n += list.length;
    return n;
  }

  /** A parked connection that started up as `key` describes, or null. */
  take(key: string): Parked | null {
    const list = this.byKey.get(key);
    while (list?.length) {
      const e = list.pop()!;
      if (!list.length) this.byKey.delete(key);
      if (e.link.lost) continue;
      e.link.onClose = () => undefined;
      return e;
    }
    return null;
  }

  /**
   * An ended session's read connection: parked once DISCARD ALL has
   * answered if it was idle outside a transaction; otherwise (a read in
   * flight, a transaction left open, the connection lost) or if DISCARD ALL
   * fails, closed.
   */
  park(key: string, p: Parked): void {
    const { link, lease } = p;
    if (this.stopped || link.lost || link.pending > 0 || link.status !== 0x49 || link.copyIn) {
      link.destroy();
      return;
    }
    link.unsolicited = () => undefined;
    link.onCopyIn = null;
    const entry: Entry = { ...p, key, since: Date.now() };
    link.onClose = () => this.remove(entry);
    // until DISCARD ALL has answered nobody may take it back: the session that had it is gone
    if (lease) lease.reclaim = () => false;
    // a session that ended while its client was not reading had stopped reading its backends too
    link.readAgain('client');
    const reset = new Collect();
    link.request(queryMessage('DISCARD ALL'), reset);
    // a server that does not answer in time is no connection to hand on
    const late = setTimeout(() => end(link), RESET_MS);
    late.unref();
    reset.done.then(
      (status) => {
        clearTimeout(late);
        if (reset.error || status !== 0x49 || link.lost || this.stopped || link.stream.writableEnded || link.stream.destroyed) {
          end(link);
          return;
        }
        entry.since = Date.now();
        if (lease) {
          lease.used = entry.since;
          // the limit on read connections wants it for a session with reads to route
          lease.reclaim = () => {
            this.drop(entry);
            return true;
          };
        }
        // the longest parked makes room: the likeliest not to be wanted again
        if (this.size >= PARKED_MAX) this.closeOldest();
        const list = this.byKey.get(key) ?? [];
        list.push(entry);
        this.byKey.set(key, list);
      },
      () => {
        clearTimeout(late);
        link.destroy();
      },
    );
  }

  private remove(e: Entry): void {
    const list = this.byKey.get(e.key);
    const i = list?.indexOf(e) ?? -1;
    if (i < 0) return;
    list!.splice(i, 1);
    if (!list!.length) this.byKey.delete(e.key);
  }

  /** No longer kept: out of the list, and logged off. */
  private drop(e: Entry): void {
    this.remove(e);
    end(e.link);
  }

  private closeOldest(): void {
    let oldest: Entry | null = null;
    for (const list of this.byKey.values()) for (const e of list) if (!oldest || e.since < oldest.since) oldest = e;
    if (oldest) this.drop(oldest);
  }

  private sweep(): void {
    const now = Date.now();
    for (const list of [...this.byKey.values()]) for (const e of [...list]) if (now - e.since >= PARKED_IDLE_MS) this.drop(e);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const list of [...this.byKey.values()]) for (const e of list) end(e.link);
    this.byKey.clear();
  }
}

/** Log off as a client does (the server logs no lost connection), and let go of the socket soon either way. */
function end(link: BackendLink): void {
  const s = link.stream;
  if (s.destroyed) return;
  if (!link.lost) s.end(terminateMessage());
  setTimeout(() => s.destroy(), 1_000).unref();
}
