// An in-process proxy with its control plane, as `cutover proxy` runs it: state
// store (an SQLite file in a temporary directory), state sync, control API with
// promote/finalize plugged in. Tests steer it over HTTP and read its counters.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LiveState } from '../../common/live-state.ts';
import { loadConfig, type ConfigInput } from '../../common/config.ts';
import { silentLogger, type Logger } from '../../common/log.ts';
import type { ControlHooks } from '../../control/context.ts';
import { startProxy, type ProxyServer } from '../../proxy/server.ts';
import { startControlForProxy } from '../../proxy/control-hook.ts';
import { openStateStore } from '../../control/state/store.ts';
import { StateSync } from '../../control/state/sync.ts';
import { freePort } from '../harness/postgres.ts';

export interface ControlledProxy {
  proxy: ProxyServer;
  live: LiveState;
  /** The state store's file. */
  state: string;
  /** host:port of the control API. */
  control: string;
  url(database: string): string;
  api(method: string, p: string, body?: unknown): Promise<{ status: number; json: Record<string, any> }>;
  close(): Promise<void>;
}

/** `with.log`: the proxy's and control API's logger; `with.hooks`: promote/finalize as plugged in (default the real ones). */
export async function startControlledProxy(overrides: Partial<ConfigInput> & { source: string; target: string }, plugged: { log?: Logger; hooks?: ControlHooks } = {}): Promise<ControlledProxy> {
  const log = plugged.log ?? silentLogger;
  const port = await freePort();
  const control = `127.0.0.1:${await freePort()}`;
  const state = path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-ctl-')), 'state.db');
  const cfg = loadConfig({ listen: `127.0.0.1:${port}`, control, state, logLevel: 'silent', ...overrides }, {});
  const live = new LiveState();
  const sync = new StateSync(await openStateStore(cfg.state), live, silentLogger, 'test proxy');
  await sync.start();
  const proxy = await startProxy(cfg, live, log);
  const ctl = await startControlForProxy(cfg, live, log, proxy, sync, plugged.hooks);
  return {
    proxy,
    live,
    state: cfg.state,
    control,
    url: (database) => `postgres://postgres:postgres@127.0.0.1:${port}/${database}`,
    api: async (method, p, body) => {
      const res = await fetch(`http://${control}${p}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
      return { status: res.status, json: (await res.json()) as Record<string, any> };
    },
    close: async () => {
      await proxy.close(200);
      await ctl.close();
      await sync.stop();
    },
  };
}

/** Walk the phases up to SHIFTING with reads at 100 %, the last plan step, with a verify pass recorded on the way. */
export async function walkToFullReads(cp: ControlledProxy): Promise<void> {
  for (const p of ['PREFLIGHT', 'BACKUP', 'CAPTURE', 'BACKFILL', 'VERIFY']) {
    const r = await cp.api('PUT', '/phase', { phase: p });
    if (r.status !== 200) throw new Error(`phase ${p}: ${JSON.stringify(r.json)}`);
  }
  // the pass `cutover verify` records (test/control/verify-gate.test.ts runs the real one): reads may start
  const v = await cp.api('POST', '/verify', { passed: true, summary: 'test: both databases equal' });
  if (v.status !== 200) throw new Error(`verify: ${JSON.stringify(v.json)}`);
  const r = await cp.api('PUT', '/reads', { percent: 100 });
  if (r.status !== 200) throw new Error(`reads 100: ${JSON.stringify(r.json)}`);
}
