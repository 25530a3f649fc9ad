// `cutover proxy`: the PostgreSQL wire-protocol proxy (and, in the same
// process, the control API when the control plane is present).
import type { Command } from 'commander';
import { LiveState } from '../common/live-state.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { action } from '../control/cli-support.ts';
import { startProxy } from './server.ts';
import { isWorker, runPrimary, runWorker } from './workers.ts';
import { registerCaptureCommands } from './capture/commands.ts';
import { SqliteStateStore, persistLiveState } from '../control/state/sqlite-store.ts';

export function registerProxyCommands(program: Command): void {
  registerCaptureCommands(program);
  program
    .command('proxy')
    .description('run the PostgreSQL wire-protocol proxy and the control API')
    .option('--tls-cert <file>', 'PEM certificate for client TLS (sslmode=require)')
    .option('--tls-key <file>', 'PEM private key for client TLS')
    .option('--auth <method>', 'client authentication: scram-sha-256 (default), md5, trust (loopback only)')
    .option('--max-message-size <bytes>', 'largest protocol message accepted from a client (default 64 MiB)')
    .option('--drain-timeout <seconds>', 'on SIGTERM, how long open transactions may take to finish (default 30)')
    .option('--processes <n>', 'worker processes sharing the listener (default 1)')
    .action(
      action(async ({ cfg }) => {
        const log = createLogger(cfg.logLevel, 'cutover-proxy');
        const live = new LiveState({ readPercent: cfg.reads });
        if (cfg.processes > 1 && isWorker()) {
          await runWorker(cfg, live, log);
          await new Promise(() => undefined); // lives until the primary says shutdown
        }
        if (cfg.processes > 1) {
          const fleet = await runPrimary(cfg.processes, log);
          log.info({ listen: cfg.listen, processes: cfg.processes }, 'proxy listening');
          await waitForSignal(log, cfg.drainTimeout, () => fleet.stop(cfg.drainTimeout * 1000));
          return 0;
        }
        const proxy = await startProxy(cfg, live, log);
        // restored before the first session can route a read (routing needs a client start-up first)
        const store = cfg.state.startsWith('redis://') ? null : new SqliteStateStore(cfg.state);
        if (store) persistLiveState(store, live, `proxy ${process.pid}`);
        else log.warn('redis state store not available in this build: state is kept in memory only');
        const { startControlForProxy } = await import('./control-hook.ts');
        const control = await startControlForProxy(cfg, live, log, proxy, store);
        await waitForSignal(log, cfg.drainTimeout, async () => {
          await proxy.close(cfg.drainTimeout * 1000);
          await control?.close();
          store?.close();
        });
        return 0;
      }),
    );
}

/** SIGTERM/SIGINT: stop accepting, drain, then resolve so the process exits 0. */
function waitForSignal(log: Logger, drainTimeout: number, stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal, drainTimeout }, 'shutting down: draining sessions');
      void stop().then(() => {
        log.info('proxy stopped');
        log.flush?.();
        resolve();
      });
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
}
