// Whether the target answers, every few seconds, for status and /readyz: a
// target down is logged once when it goes and once when it is back.
import { pgClient } from '../common/pg-config.ts';
import type { Logger } from '../common/log.ts';
import { redactUrl } from '../common/urls.ts';
import type { ProxyStats } from './stats.ts';

/** Connect and `SELECT 1` every few seconds; log transitions only. */
export function startTargetHealthCheck(url: string, stats: ProxyStats, log: Logger): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const check = async () => {
    const client = pgClient(url, { connectionTimeoutMillis: 3_000 });
    client.on('error', () => undefined);
    let ok = false;
    try {
      await client.connect();
      await client.query('SELECT 1');
      ok = true;
    } catch (e) {
      if (stats.targetAvailable !== false) log.warn({ reason: redactUrl((e as Error).message) }, 'target database unavailable');
    } finally {
      await client.end().catch(() => undefined);
    }
    if (ok && stats.targetAvailable !== true) log.info('target database reachable');
    stats.targetAvailable = ok;
    if (!stopped) timer = setTimeout(check, 5_000).unref();
  };
  void check();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
