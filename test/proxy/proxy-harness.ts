// Starts a proxy in-process for a test, on a free port, against the suite's clusters.
import { LiveState } from '../../common/live-state.ts';
import { loadConfig, type ConfigInput } from '../../common/config.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import { startProxy, type ProxyServer } from '../../proxy/server.ts';
import { freePort } from '../harness/postgres.ts';

export interface TestProxy {
  proxy: ProxyServer;
  live: LiveState;
  port: number;
  /** Connection URL through the proxy. */
  url(database: string, user?: string, password?: string): string;
  close(): Promise<void>;
}

export async function startTestProxy(overrides: Partial<ConfigInput> & { source: string }, log: Logger = silentLogger): Promise<TestProxy> {
  const port = await freePort();
  const cfg = loadConfig({ listen: `127.0.0.1:${port}`, logLevel: 'silent', ...overrides }, {});
  const live = new LiveState({ readPercent: cfg.reads });
  const proxy = await startProxy(cfg, live, log);
  return {
    proxy,
    live,
    port,
    url: (database, user = 'postgres', password = 'postgres') =>
      `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    close: () => proxy.close(200),
  };
}
