// The one place where `cutover proxy` starts the control API in its own process.
import type { Config } from '../common/config.ts';
import type { LiveState } from '../common/live-state.ts';
import type { Logger } from '../common/log.ts';
import type { ProxyServer } from './server.ts';
import type { SqliteStateStore } from '../control/state/sqlite-store.ts';

export async function startControlForProxy(cfg: Config, live: LiveState, log: Logger, proxy: ProxyServer, store: SqliteStateStore | null): Promise<{ close(): Promise<void> } | null> {
  const { startControlApi } = await import('../control/api.ts');
  return startControlApi(cfg, live, log, proxy, store);
}
