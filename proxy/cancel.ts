// CancelRequest handling. Each client session gets the proxy's own
// BackendKeyData; the registry maps it to whichever server currently runs the
// session's query, so a cancel reaches the right backend (and a guessed key
// reaches nothing).
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
 * the one holding the session: the worker number lives in the key's top bits
 * and `forward` hands foreign keys to the right worker.
 */
export interface WorkerIdentity {
  index: number;
  forward(pid: number, secret: number): void;
}

const WORKER_SHIFT = 24;

export class CancelRegistry {
  private readonly sessions = new Map<number, { secret: number; targets: () => CancelTarget[] }>();

  constructor(private readonly worker: WorkerIdentity | null = null) {}

  /** Issue a key for a session; `targets` names the backends a cancel must reach. */
  register(targets: () => CancelTarget[]): { pid: number; secret: number } {
    let pid: number;
    do pid = this.worker ? ((this.worker.index + 1) << WORKER_SHIFT) | randomInt(1, 1 << WORKER_SHIFT) : randomInt(1, 0x7fffffff);
    while (this.sessions.has(pid));
    const secret = randomInt(0, 0x7fffffff);
    this.sessions.set(pid, { secret, targets });
    return { pid, secret };
  }

  unregister(pid: number): void {
    this.sessions.delete(pid);
  }

  /** Forward a client's CancelRequest. Unknown or wrong keys are ignored, as PostgreSQL does. */
  cancel(pid: number, secret: number): boolean {
    if (this.worker && pid >> WORKER_SHIFT !== this.worker.index + 1) {
      this.worker.forward(pid, secret);
      return true;
    }
    const entry = this.sessions.get(pid);
    if (!entry || entry.secret !== secret) return false;
    for (const t of entry.targets()) sendCancel(t);
    return true;
  }
}

export function workerOfKey(pid: number): number {
  return (pid >> WORKER_SHIFT) - 1;
}

function sendCancel(t: CancelTarget): void {
  const s = net.connect({ host: t.host, port: t.port });
  s.on('error', () => undefined); // best effort, like libpq's PQcancel
  s.setTimeout(5_000, () => s.destroy());
  s.once('connect', () => s.end(cancelRequest(t.pid, t.secret)));
}
