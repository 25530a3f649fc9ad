// `cutover proxy`: the PostgreSQL wire-protocol proxy (and, in the same
// process, the control API when the control plane is present).
import type { Command } from 'commander';
import { LiveState } from '../common/live-state.ts';
import { createLogger } from '../common/log.ts';
import { action } from '../control/cli-support.ts';
import { startProxy } from './server.ts';

export function registerProxyCommands(program: Command): void {
  program
    .command('proxy')
    .description('run the PostgreSQL wire-protocol proxy and the control API')
    .option('--tls-cert <file>', 'PEM certificate for client TLS (sslmode=require)')
    .option('--tls-key <file>', 'PEM private key for client TLS')
    .option('--auth <method>', 'client authentication: scram-sha-256 (default), md5, trust (loopback only)')
    .option('--max-message-size <bytes>', 'largest protocol message accepted from a client (default 64 MiB)')
    .option('--drain-timeout <seconds>', 'on SIGTERM, how long open transactions may take to finish (default 30)')
    .action(
      action(async ({ cfg }) => {
        const log = createLogger(cfg.logLevel, 'cutover-proxy');
        const live = new LiveState({ readPercent: cfg.reads });
        const proxy = await startProxy(cfg, live, log);
        const { startControlForProxy } = await import('./control-hook.ts');
        const control = await startControlForProxy(cfg, live, log, proxy);
        await new Promise<void>((resolve) => {
          let stopping = false;
          const stop = (signal: string) => {
            if (stopping) return;
            stopping = true;
            log.info({ signal, drainTimeout: cfg.drainTimeout }, 'shutting down: draining sessions');
            void (async () => {
              await proxy.close(cfg.drainTimeout * 1000);
              await control?.close();
              log.info('proxy stopped');
              log.flush?.();
              resolve();
            })();
          };
          process.once('SIGTERM', () => stop('SIGTERM'));
          process.once('SIGINT', () => stop('SIGINT'));
        });
        return 0;
      }),
    );
}
