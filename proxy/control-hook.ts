// The one place where `cutover proxy` starts the control plane in its own
// process: gates over this proxy's counters, the gate watcher, the control API.
// The state store itself is opened earlier (proxy/commands.ts), so the state is
// restored before the listener accepts anyone.
import type { Config } from '../common/config.ts';
import type { LiveState } from '../common/live-state.ts';
import type { Logger } from '../common/log.ts';
import type { ProxyServer } from './server.ts';
import type { StateSync } from '../control/state/sync.ts';
import type { ControlHooks } from '../control/context.ts';

export async function startControlForProxy(cfg: Config, live: LiveState, log: Logger, proxy: ProxyServer, sync: StateSync, hooks?: ControlHooks): Promise<{ close(): Promise<void>; address: string }> {
  const { startControlApi } = await import('../control/api.ts');
  // promote, finalize and rollback after promote swap the databases' roles (control/promote/)
  hooks ??= (await import('../control/promote/hooks.ts')).promoteHooks;
  const { GateMonitor } = await import('../control/gate-monitor.ts');
  const { startGateWatcher } = await import('../control/watcher.ts');
  const gates = new GateMonitor(proxy, live, cfg);
  const ctx = { cfg, live, log, proxy, sync, gates, proxyId: sync.actor };
  const watcher = startGateWatcher(sync, live, gates, log, { webhook: cfg.webhook, proxyId: sync.actor });
  const api = await startControlApi(ctx, hooks);
  return {
    address: api.address,
    close: async () => {
      watcher.stop();
      await api.close();
    },
  };
}
