// CancelRequest handling. Each client session gets BackendKeyData from the
// proxy: the process ID of the session's source backend (what
// pg_backend_pid() returns, what a NOTIFY from this session carries, what
// pg_terminate_backend and pg_stat_activity know it by: drivers compare and
// use it), with a secret of the proxy's own. The registry maps the key to
// whichever servers currently run the session's query, so a cancel reaches
// the right backend (and a guessed key reaches nothing).
import { randomInt } from 'node:crypto';
import net from 'node:net';
import { cancelRequest } from './messages.ts';

export interface CancelTarget {
  host: string;
  port: number;
  pid: number;
  secret: number;
}

/**
 * With several worker processes the cancel may arrive at another worker than
 * the one holding the session: the worker number lives in the secret's top
 * bits (the process ID is the backend's) and `forward` hands foreign keys to
 * the right worker.
 */
export interface WorkerIdentity {
  index: number;
  forward(pid: number, secret: number): void;
}

const WORKER_SHIFT = 24;

export class CancelRegistry {
  private readonly sessions = new Map<number, { secret: number; targets: () => CancelTarget[]; engine?: true }>();

  /** Sessions the proxy runs itself (the SQLite engine's), which sent their own key: tried for a key not issued here. */
  inProcess: ((pid: number, secret: number) => boolean) | null = null;

  constructor(private readonly worker: WorkerIdentity | null = null) {}

  /**
   * Issue a key for a session; `targets` names the backends a cancel must
   * reach, `backendPid` is the process ID to show (the source backend's),
   * unless another session of this worker already shows it (two servers can
   * hand out the same one): then a random one.
   */
  register(targets: () => CancelTarget[], backendPid?: number): { pid: number; secret: number } {
    let pid = backendPid !== undefined && backendPid > 0 && !this.sessions.has(backendPid) ? backendPid : 0;
    while (!pid || this.sessions.has(pid)) pid = randomInt(1, 0x7fffffff);
    const secret = this.worker ? ((this.worker.index + 1) << WORKER_SHIFT) | randomInt(0, 1 << WORKER_SHIFT) : randomInt(0, 0x7fffffff);
    this.sessions.set(pid, { secret, targets });
    return { pid, secret };
  }

  /**
   * A session whose key the SQLite engine issued (and answers through
   * `inProcess`): a cancel with it also reaches `targets`, the servers its
   * routed reads run on.
   */
  adopt(pid: number, secret: number, targets: () => CancelTarget[]): void {
    this.sessions.set(pid, { secret, targets, engine: true });
  }

  unregister(pid: number): void {
    this.sessions.delete(pid);
  }

  /** Forward a client's CancelRequest. Unknown or wrong keys are ignored, as PostgreSQL does. */
  cancel(pid: number, secret: number): boolean {
    if (this.worker && workerOfKey(secret) !== this.worker.index) {
      this.worker.forward(pid, secret);
      return true;
    }
    const entry = this.sessions.get(pid);
    if (!entry || entry.secret !== secret) return this.inProcess?.(pid, secret) ?? false;
    for (const t of entry.targets()) sendCancel(t);
    if (entry.engine) this.inProcess?.(pid, secret);
    return true;
  }
}

/** The worker that issued a key, from its secret. */
export function workerOfKey(secret: number): number {
  return (secret >>> WORKER_SHIFT) - 1;
}

/** A CancelRequest to one server, on a connection of its own; best effort. */
export function sendCancel(t: CancelTarget): void {
  const s = net.connect({ host: t.host, port: t.port });
  s.on('error', () => undefined); // best effort, like libpq's PQcancel
  s.setTimeout(5_000, () => s.destroy());
  s.once('connect', () => s.end(cancelRequest(t.pid, t.secret)));
}
