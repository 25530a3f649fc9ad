// The demo's throwaway servers and files, removed however the demo ends. An
// interrupted demo (Ctrl-C, or SIGTERM from a CI timeout) skipped its cleanup:
// the process ended at once and left two PostgreSQL servers running, with their
// data directories, for nobody to stop.
import { rmSync } from 'node:fs';
import { onceSignalled } from '../../common/interrupt.ts';
import { startCluster, type Cluster, type ClusterOptions } from '../../common/local-postgres.ts';

export class Throwaway {
  private readonly clusters: Cluster[] = [];
  private readonly starting = new Set<Promise<Cluster>>();
  /** Once begun, every caller waits for the same removal: a signal during the normal cleanup must not exit halfway through it. */
  private removing: Promise<void> | null = null;

  constructor(private readonly dirs: string[]) {}

  async start(opts: ClusterOptions): Promise<Cluster> {
    const p = startCluster(opts);
    this.starting.add(p);
    try {
      const c = await p;
      this.clusters.push(c);
      return c;
    } finally {
      this.starting.delete(p);
    }
  }

  /** Stops and deletes every server (one still starting too, once it has: pg_ctl would start it after we left) and the directories. */
  removeAll(): Promise<void> {
    this.removing ??= (async () => {
      await Promise.allSettled([...this.starting]);
      await Promise.all(this.clusters.map((c) => c.destroy()));
      for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
    })();
    return this.removing;
  }

  /** Until the returned function is called, SIGINT and SIGTERM remove everything, then end the process: exit 1, one line. */
  removeOnInterrupt(): () => void {
    const handler = (signal: NodeJS.Signals) => {
      // the demo's own clients lose their connections as the servers stop: the process is ending, and
      // a stack trace of theirs ("Connection terminated unexpectedly") would end it before the removal
      process.on('uncaughtException', () => undefined);
      process.on('unhandledRejection', () => undefined);
      void this.removeAll().finally(() => {
        process.stderr.write(`cutover: demo interrupted (${signal}); its databases were stopped and removed\n`);
        process.exit(1);
      });
    };
    return onceSignalled(handler);
  }
}
