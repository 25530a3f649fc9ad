// Where the control API may listen: anything but loopback only with a token,
// as steering the migration from the network must be authenticated.
import { ConfigError, type Config } from '../common/config.ts';
import { isLoopback, splitHostPort } from '../proxy/server.ts';

/** Throws when --control is off loopback with no token; the proxy checks before it opens or serves anything. */
export function checkControlAddress(cfg: Pick<Config, 'control' | 'token'>): void {
  if (!isLoopback(splitHostPort(cfg.control).host) && !cfg.token) {
    throw new ConfigError(`refusing to serve the control API on ${cfg.control} without a token: set CUTOVER_TOKEN`);
  }
}
