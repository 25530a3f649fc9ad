// The one place where `cutover proxy` starts the control plane in its own
// process. Until the control plane lands this starts nothing.
import type { Config } from '../common/config.ts';
import type { LiveState } from '../common/live-state.ts';
import type { Logger } from '../common/log.ts';
import type { ProxyServer } from './server.ts';

export async function startControlForProxy(
  _cfg: Config,
  _live: LiveState,
  _log: Logger,
  _proxy: ProxyServer,
): Promise<{ close(): Promise<void> } | null> {
  return null;
}
