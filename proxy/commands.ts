// `cutover proxy`: the PostgreSQL wire-protocol proxy (and, in the same
// process, the control API when the control plane is present).
import type { Command } from 'commander';
import { ConfigError, requireKey } from '../common/config.ts';
import type { Logger } from '../common/log.ts';
import { action } from '../control/cli-support.ts';
import { registerCaptureCommands } from './capture/commands.ts';
import { hostname } from 'node:os';

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
    .option('--target-sessions <n>', 'session connections to the new database for reads, per proxy (default: from its max_connections; 0: no limit)')
    .option('--processes <n>', 'worker processes sharing the listener (default 1)')
    .option('--webhook <url>', 'alert webhook: a JSON POST on every automatic rollback')
    .option('--steps <list>', 'plan of read percents, comma-separated (default 10,25,50,75,90,100)')
    .option('--promote-timeout <seconds>', 'promote: how long in-flight transactions may take before it gives up, roles unchanged (default 10)')
    .action(
      action(async ({ cfg }) => {
        // before the state store is opened: a proxy without its source left a state file (and a proxy claim) behind
        requireKey(cfg, 'source');
        // each worker would mirror and route on its own: a mirror failure trips reads in its worker alone (the
        // others go on reading a target missing those rows), with no state store, control API or promote
        if (cfg.processes > 1 && cfg.target) {
          throw new ConfigError(`--processes ${cfg.processes} serves passthrough only (worker processes share no mirror state: trips, held reads, phase, control API); with --target run one process`);
        }
        const [{ LiveState }, { createLogger }, { isWorker, runPrimary, runWorker }] = await Promise.all([import('../common/live-state.ts'), import('../common/log.ts'), import('./workers.ts')]);
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
        // the state is restored before the listener accepts anyone; until the store answers, reads stay at 0 %
        live.update({ readPercent: 0 });
        const [{ openStateStore }, { SqliteStateStore }, { StateSync }, { webhookLabel }, { startProxy }, { checkControlAddress }] = await Promise.all([import('../control/state/store.ts'), import('../control/state/sqlite-store.ts'), import('../control/state/sync.ts'), import('../control/webhook.ts'), import('./server.ts'), import('../control/control-address.ts')]);
        // before the state store opens and the listener serves: found only when the control API started, the
        // refusal came after both (a state file made, clients briefly accepted, two log lines before the reason)
        checkControlAddress(cfg);
        const store = await openStateStore(cfg.state, { initialReads: cfg.reads });
        if (store instanceof SqliteStateStore) {
          try {
            store.claimForProxy();
          } catch (e) {
            await store.close();
            throw e;
          }
        }
        const sync = new StateSync(store, live, log, `proxy ${hostname()}:${process.pid}`);
        await sync.start();
        log.info({ store: sync.store.where, phase: live.get().phase, readPercent: live.get().readPercent, degraded: sync.degraded, webhook: cfg.webhook ? webhookLabel(cfg.webhook) : null }, 'state restored');
        // a proxy restarted after dying mid-promote queues every new transaction behind the pause it left, saying nothing
        if (live.get().paused) log.warn({ store: sync.store.where }, 'new transactions are paused by a promote, rollback or finalize: unless another proxy is running it, cutover status says PAUSED and cutover resume lifts the pause (roles unchanged)');
        const proxy = await startProxy(cfg, live, log).catch(async (e: unknown) => {
          // the listen address taken, say: the state sync's timers must not keep a process that serves nothing alive
          await sync.stop();
          throw e;
        });
        const { startControlForProxy } = await import('./control-hook.ts');
        const control = await startControlForProxy(cfg, live, log, proxy, sync).catch(async (e: unknown) => {
          // no proxy without its control API (the address taken, say): nothing left listening, exit 1
          await proxy.close(0);
          await sync.stop();
          throw e;
        });
        await waitForSignal(log, cfg.drainTimeout, async () => {
          await proxy.close(cfg.drainTimeout * 1000);
          await control.close();
          await sync.stop();
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
    // Node's default for SIGHUP is to exit: a logrotate postrotate script or a closed terminal would end
    // every session. PgBouncer reloads on it; the proxy's settings change through the control API instead
    process.on('SIGHUP', () => log.info({ signal: 'SIGHUP' }, 'SIGHUP: the proxy keeps running; change its settings through the control API (cutover reads, pause, resume), stop it with SIGTERM'));
  });
}
