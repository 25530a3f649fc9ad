// Several proxy processes on one listener (node:cluster), so the relay uses
// more than one core. The primary only forks, forwards CancelRequests between
// workers (a cancel may land on any worker) and relays shutdown.
import cluster from 'node:cluster';
import type { Config } from '../common/config.ts';
import type { LiveState } from '../common/live-state.ts';
import type { Logger } from '../common/log.ts';
import { workerOfKey } from './cancel.ts';
import { startProxy, type ProxyServer } from './server.ts';

type Ipc = { type: 'cancel'; pid: number; secret: number } | { type: 'shutdown'; drainMs: number } | { type: 'ready' };

export const isWorker = (): boolean => cluster.isWorker;

/** In the primary: fork and supervise; resolves when every worker has exited after `stop`. */
export async function runPrimary(n: number, log: Logger): Promise<{ stop(drainMs: number): Promise<void> }> {
  const workers = new Map<number, ReturnType<typeof cluster.fork>>();
  let stopping = false;
  const fork = (index: number) => {
    const w = cluster.fork({ CUTOVER_WORKER_INDEX: String(index) });
    workers.set(index, w);
    w.on('message', (m: Ipc) => {
      if (m.type === 'cancel') workers.get(workerOfKey(m.secret))?.send(m);
    });
    w.on('exit', (code) => {
      workers.delete(index);
      if (!stopping) {
        log.error({ worker: index, code }, 'proxy worker died; starting another');
        fork(index);
      }
    });
    return new Promise<void>((resolve, reject) => {
      w.on('message', (m: Ipc) => m.type === 'ready' && resolve());
      w.once('exit', (code) => reject(new Error(`proxy worker ${index} exited during start-up (code ${code})`)));
    });
  };
  await Promise.all(Array.from({ length: n }, (_, i) => fork(i)));
  return {
    stop: async (drainMs) => {
      stopping = true;
      const exits = [...workers.values()].map((w) => new Promise((r) => w.once('exit', r)));
      for (const w of workers.values()) w.send({ type: 'shutdown', drainMs } satisfies Ipc);
      await Promise.all(exits);
    },
  };
}

/** In a worker: run one proxy and obey the primary. */
export async function runWorker(cfg: Config, live: LiveState, log: Logger): Promise<ProxyServer> {
  const index = Number(process.env.CUTOVER_WORKER_INDEX ?? 0);
  const proxy = await startProxy(cfg, live, log.child({ worker: index }), {
    index,
    forward: (pid, secret) => process.send?.({ type: 'cancel', pid, secret } satisfies Ipc),
  });
  process.on('message', (m: Ipc) => {
    if (m.type === 'cancel') proxy.cancel(m.pid, m.secret);
    if (m.type === 'shutdown') void proxy.close(m.drainMs).then(() => process.exit(0));
  });
  // the primary handles signals for the fleet
  process.on('SIGTERM', () => undefined);
  process.on('SIGINT', () => undefined);
  process.on('SIGHUP', () => undefined);
  process.send?.({ type: 'ready' } satisfies Ipc);
  return proxy;
}
