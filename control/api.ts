// The control API a running proxy serves on --control: status, read percent,
// rollback of reads, Prometheus metrics, health. JSON in and out; bodies
// validated (400 names the field); a bearer token when configured, and a
// token is required before it will bind anything but loopback.
import Fastify, { type FastifyInstance } from 'fastify';
import client from 'prom-client';
import { z } from 'zod';
import { ConfigError, type Config } from '../common/config.ts';
import type { LiveState } from '../common/live-state.ts';
import type { Logger } from '../common/log.ts';
import type { ProxyServer } from '../proxy/server.ts';
import { isLoopback, splitHostPort } from '../proxy/server.ts';
import { mirrorMetrics } from '../proxy/mirror/metrics.ts';
import { shadowStats } from '../proxy/shadow.ts';
import type { SqliteStateStore } from './state/sqlite-store.ts';

export interface ControlApi {
  address: string;
  close(): Promise<void>;
}

const readsBody = z.object({ percent: z.number().int().min(0).max(100) }).strict();
const rollbackBody = z.object({ reason: z.string().max(500).optional() }).strict();

export function statusOf(live: LiveState, proxy: ProxyServer, store: SqliteStateStore | null = null) {
  const s = live.get();
  return {
    phase: s.phase,
    readPercent: s.readPercent,
    effectiveReadPercent: live.effectiveReadPercent,
    tripped: s.tripped,
    mirroring: s.mirroring,
    sourceOfTruth: s.sourceOfTruth,
    proxy: proxy.stats(),
    target: proxy.guard ? { ...proxy.guard.stats, drainBacklog: proxy.drainer?.backlog ?? 0 } : null,
    shadow: { ...shadowStats },
    history: store?.history(20) ?? [],
  };
}

export async function startControlApi(cfg: Config, live: LiveState, log: Logger, proxy: ProxyServer, store: SqliteStateStore | null = null): Promise<ControlApi> {
  const { host, port } = splitHostPort(cfg.control);
  if (!isLoopback(host) && !cfg.token) {
    throw new ConfigError(`refusing to serve the control API on ${cfg.control} without a token: set CUTOVER_TOKEN`);
  }
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  app.addHook('onRequest', async (req, reply) => {
    if (!cfg.token || req.url === '/healthz') return;
    if (req.headers.authorization !== `Bearer ${cfg.token}`) {
      await reply.code(401).send({ error: 'missing or wrong bearer token' });
    }
  });
  const bad = (e: z.ZodError) => {
    const i = e.issues[0]!;
    return { error: `invalid ${i.path.join('.') || 'body'}: ${i.message}`, field: i.path.join('.') || null };
  };

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    const ready = proxy.stats().sourceAvailable;
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  app.get('/status', async () => statusOf(live, proxy, store));
  app.put('/reads', async (req, reply) => {
    const parsed = readsBody.safeParse(req.body);
    if (!parsed.success) return reply.code(400).send(bad(parsed.error));
    const before = live.get();
    // an operator setting reads is also the "resume" after a trip
    live.update({ readPercent: parsed.data.percent, tripped: null }, `operator: PUT /reads ${parsed.data.percent}`);
    log.info({ from: before.readPercent, to: parsed.data.percent, wasTripped: before.tripped }, 'read percent changed by operator');
    return statusOf(live, proxy, store);
  });
  app.post('/rollback', async (req, reply) => {
    const parsed = rollbackBody.safeParse(req.body ?? {});
    if (!parsed.success) return reply.code(400).send(bad(parsed.error));
    const reason = parsed.data.reason ?? 'operator rollback';
    live.update({ readPercent: 0 }, reason);
    log.warn({ reason }, 'reads rolled back to the source');
    return statusOf(live, proxy, store);
  });
  app.get('/metrics', async (_req, reply) => {
    mirrorMetrics.readPercent.set(live.effectiveReadPercent);
    return reply.type(client.register.contentType).send(await client.register.metrics());
  });

  try {
    await app.listen({ host, port });
  } catch (e) {
    throw new ConfigError(`cannot serve the control API on ${cfg.control}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const addr = app.server.address();
  const address = typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : cfg.control;
  log.info({ control: address }, 'control API listening');
  return { address, close: () => app.close() };
}
