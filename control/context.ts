// What the control API and the gate watcher of one proxy share.
import type { Config } from '../common/config.ts';
import type { LiveState } from '../common/live-state.ts';
import type { Logger } from '../common/log.ts';
import type { ProxyServer } from '../proxy/server.ts';
import type { GateMonitor } from './gate-monitor.ts';
import type { StateSync } from './state/sync.ts';

export interface ControlContext {
  cfg: Config;
  live: LiveState;
  log: Logger;
  proxy: ProxyServer;
  sync: StateSync;
  gates: GateMonitor;
  /** Names this proxy in the audit log and webhook posts. */
  proxyId: string;
}

/**
 * Commands whose work lives outside the control plane (promote swaps the roles
 * of the databases; finalize removes capture). The API serves 501 for a hook
 * that is not plugged in; each returns what the API answers (merged into status).
 */
export interface ControlHooks {
  promote?(ctx: ControlContext, actor: string, opts?: { force?: boolean; timeoutSeconds?: number }): Promise<Record<string, unknown> | void>;
  finalize?(ctx: ControlContext, actor: string): Promise<Record<string, unknown> | void>;
  /** Rollback while PROMOTED: the legacy database back to source of truth. */
  rollbackPromoted?(ctx: ControlContext, actor: string, reason: string): Promise<Record<string, unknown> | void>;
  /** Lift a pause left by a swap whose proxy died (control/promote/resume.ts). */
  resume?(ctx: ControlContext, actor: string, opts: { force: boolean; reason: string }): Promise<Record<string, unknown> | void>;
}
