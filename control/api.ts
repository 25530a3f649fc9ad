// The control API a running proxy serves on --control: status, reads, step,
// rollback, phase, promote/finalize (pluggable), metrics, health, status page.
// JSON in and out; bodies validated (400 names the field); a bearer token when
// configured, and a token is required before it will bind anything but loopback.
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import client from 'prom-client';
import { z } from 'zod';
import { ConfigError } from '../common/config.ts';
import { describeError } from '../common/errors.ts';
import { redactDeep } from '../common/redact.ts';
import { splitHostPort } from '../proxy/server.ts';
import { checkControlAddress } from './control-address.ts';
import { mirrorMetrics } from '../proxy/mirror/metrics.ts';
import type { ControlContext, ControlHooks } from './context.ts';
import { firstBreach } from './gates.ts';
import { STATUS_PAGE } from './page.ts';
import { PHASES } from './phases.ts';
import { Refused } from './refused.ts';
import { StoreUnavailable } from './state/sync.ts';
import type { Mutation } from './state/store.ts';
import { statusOf } from './status.ts';
import { rollback, setPhase, setReads, step } from './steer.ts';
import { recordVerify, staleVerify } from './verify-gate.ts';

export interface ControlApi {
  address: string;
  close(): Promise<void>;
}

const readsBody = z.object({ percent: z.number().int().min(0).max(100), force: z.boolean().optional() }).strict();
const rollbackBody = z.object({ reason: z.string().max(500).optional() }).strict();
const phaseBody = z.object({ phase: z.enum(PHASES as [string, ...string[]]), reason: z.string().max(500).optional(), force: z.boolean().optional() }).strict();
const verifyBody = z.object({ passed: z.boolean(), summary: z.string().min(1).max(500), reason: z.string().max(500).optional() }).strict();
const staleBody = z.object({ cause: z.string().min(1).max(300), reason: z.string().max(500).optional() }).strict();
const emptyBody = z.object({ reason: z.string().max(500).optional() }).strict();
const resumeBody = z.object({ reason: z.string().max(500).optional(), force: z.boolean().optional() }).strict();
const promoteBody = z.object({ reason: z.string().max(500).optional(), force: z.boolean().optional(), timeoutSeconds: z.number().min(0).max(3600).optional() }).strict();

/** Routes reachable without the token: liveness, and the status page (it holds no data). */
const PUBLIC = new Set(['/healthz', '/']);

export async function startControlApi(ctx: ControlContext, hooks: ControlHooks = {}): Promise<ControlApi> {
  const { cfg, live, log, sync, gates } = ctx;
  checkControlAddress(cfg);
  const { host, port } = splitHostPort(cfg.control);
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  const expected = cfg.token ? Buffer.from(`Bearer ${cfg.token}`) : null;
  app.addHook('onRequest', async (req, reply) => {
    // by path: a load balancer's `/healthz?probe=lb` was refused 401
    if (!expected || PUBLIC.has(req.url.split('?')[0]!)) return;
    const given = Buffer.from(req.headers.authorization ?? '');
    // compared in constant time: how long a refusal takes must not tell how much of the token was right
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      await reply.code(401).send({ error: 'missing or wrong bearer token' });
    }
  });
  // a known path with the wrong method is 405 naming the right ones (RFC 9110), not 404
  const methods = new Map<string, string[]>();
  app.addHook('onRoute', (r) => {
    methods.set(r.url, [...(methods.get(r.url) ?? []), ...[r.method].flat()]);
  });
  app.setNotFoundHandler(async (req, reply) => {
    const allowed = methods.get(req.url.split('?')[0]!);
    if (allowed) return reply.code(405).header('allow', allowed.join(', ')).send({ error: `${req.method} ${req.url}: method not allowed (use ${allowed.join(' or ')})` });
    return reply.code(404).send({ error: `${req.method} ${req.url}: no such endpoint` });
  });
  app.setErrorHandler(async (e: Error & { statusCode?: number }, _req, reply) => {
    if (e instanceof Refused) return reply.code(e.status).send({ error: e.message, ...e.details });
    if (e instanceof StoreUnavailable) return reply.code(503).send({ error: e.message });
    if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send({ error: e.message, field: null });
    log.error({ err: e }, 'control API error');
    return reply.code(500).send({ error: describeError(e) });
  });
  // every answer, errors and status alike: a driver's error quoting a connection string, a reason or
  // store address carrying a password, is shown as the logs show it (common/redact.ts)
  app.addHook('preSerialization', async (_req, _reply, payload) => redactDeep(payload));

  const parse = <T>(schema: z.ZodType<T>, req: FastifyRequest): T => {
    const parsed = schema.safeParse(req.body ?? {});
    if (parsed.success) return parsed.data;
    const i = parsed.error.issues[0]!;
    const field = i.code === 'unrecognized_keys' ? i.keys.join(', ') : i.path.join('.') || null;
    throw new Refused(`invalid ${field ?? 'body'}: ${i.message}`, 400, { field });
  };
  const actor = (req: FastifyRequest) => `operator via API (${req.ip})`;
  const change = async (reply: FastifyReply, mutate: Mutation, who: string, reason: string, safe = false) => {
    await sync.change(mutate, who, reason, { safe });
    return reply.send(await statusOf(ctx));
  };

  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(STATUS_PAGE));
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (_req, reply) => {
    const source = ctx.proxy.stats().sourceAvailable;
    const ready = source && !sync.degraded;
    return reply.code(ready ? 200 : 503).send({ ready, sourceAvailable: source, degraded: sync.degraded });
  });
  app.get('/status', async () => statusOf(ctx));

  app.put('/reads', async (req, reply) => {
    const { percent, force } = parse(readsBody, req);
    const before = live.get();
    const sent = await change(reply, setReads(cfg.steps, percent, { force }), actor(req), `operator: PUT /reads ${percent}${force ? ' (force)' : ''}`, percent === 0);
    log.info({ from: before.readPercent, to: percent, wasTripped: before.tripped }, 'read percent changed by operator');
    return sent;
  });

  app.post('/step', async (req, reply) => {
    parse(emptyBody, req);
    if (!gates.hasTarget) throw new Refused('step: no --target configured: reads have nowhere to go', 409);
    const results = gates.evaluate(true);
    const breach = firstBreach(results);
    if (breach) throw new Refused(`step refused: gate ${breach.gate} fails: ${breach.detail}`, 409, { gate: breach, gates: results });
    const from = live.get().readPercent;
    return change(reply, step(cfg.steps), actor(req), `operator: step from ${from} % (gates held)`);
  });

  app.post('/rollback', async (req, reply) => {
    const reason = parse(rollbackBody, req).reason ?? 'operator rollback';
    if (live.get().phase === 'PROMOTED' && hooks.rollbackPromoted) {
      const extra = await hooks.rollbackPromoted(ctx, actor(req), reason);
      return reply.send({ ...(await statusOf(ctx)), ...(extra ?? {}) });
    }
    // logged once done, as it turned out: a refused rollback (FINALIZED) throws before the log
    const r = await sync.change(rollback(), actor(req), reason, { safe: true });
    if (r.changed) log.warn({ reason, from: r.before.phase, to: r.after.phase }, 'reads rolled back to the source');
    else log.info({ reason, phase: r.before.phase }, 'rollback: nothing to roll back (reads already at 0 %)');
    return reply.send(await statusOf(ctx));
  });

  app.put('/phase', async (req, reply) => {
    const body = parse(phaseBody, req);
    const to = body.phase as (typeof PHASES)[number];
    return change(reply, setPhase(to, { viaApi: true, force: body.force }), actor(req), body.reason ?? `operator: phase ${to}${body.force ? ' (force)' : ''}`);
  });

  // `cutover verify` compares the databases itself and records its result here, where every proxy sees it
  app.post('/verify', async (req, reply) => {
    const body = parse(verifyBody, req);
    const r = await sync.change(recordVerify(body), actor(req), body.reason ?? `cutover verify: ${body.passed ? 'passed' : 'differences found'}`);
    if (!body.passed) log.warn({ summary: body.summary, tripped: r.after.tripped !== r.before.tripped }, 'verify found differences');
    return reply.send(await statusOf(ctx));
  });

  // what a recorded pass compared changed (`cutover capture remove`): the pass stops counting
  app.post('/verify/stale', async (req, reply) => {
    const body = parse(staleBody, req);
    const r = await sync.change(staleVerify(body.cause), actor(req), body.reason ?? `verify pass cleared: ${body.cause}`, { safe: true });
    if (r.changed) log.warn({ cause: body.cause }, 'verify pass cleared: run cutover verify again before reads start');
    return reply.send(await statusOf(ctx));
  });

  app.post('/promote', async (req, reply) => {
    const body = parse(promoteBody, req);
    if (!hooks.promote) throw new Refused('promote is not available in this build', 501);
    const extra = await hooks.promote(ctx, actor(req), { force: body.force ?? false, timeoutSeconds: body.timeoutSeconds });
    return reply.send({ ...(await statusOf(ctx)), ...(extra ?? {}) });
  });
  app.post('/resume', async (req, reply) => {
    const body = parse(resumeBody, req);
    if (!hooks.resume) throw new Refused('resume is not available in this build', 501);
    const extra = await hooks.resume(ctx, actor(req), { force: body.force ?? false, reason: body.reason ?? 'operator: resume after an interrupted promote, rollback or finalize' });
    return reply.send({ ...(await statusOf(ctx)), ...(extra ?? {}) });
  });
  app.post('/finalize', async (req, reply) => {
    parse(emptyBody, req);
    if (!hooks.finalize) throw new Refused('finalize is not available in this build', 501);
    const extra = await hooks.finalize(ctx, actor(req));
    return reply.send({ ...(await statusOf(ctx)), ...(extra ?? {}) });
  });

  // With a fleet store every proxy publishes its metrics every few seconds and /metrics on any of
  // them sums the fleet's (prom-client's own aggregation: counters and histograms added up).
  const store = sync.store;
  const share = async () => {
    mirrorMetrics.readPercent.set(live.effectiveReadPercent);
    await store.shareMetrics?.(ctx.proxyId, JSON.stringify(await client.register.getMetricsAsJSON()));
  };
  const shareTimer = store.shareMetrics ? setInterval(() => void share().catch(() => undefined), 5_000) : null;
  if (shareTimer) await share().catch(() => undefined); // visible to the fleet from the start
  shareTimer?.unref();
  app.addHook('onClose', async () => {
    if (shareTimer) clearInterval(shareTimer);
  });
  app.get('/metrics', async (_req, reply) => {
    mirrorMetrics.readPercent.set(live.effectiveReadPercent);
    if (store.fleetMetrics) {
      try {
        await share();
        const fleet = (await store.fleetMetrics()).map((m) => JSON.parse(m) as unknown);
        const merged = client.AggregatorRegistry.aggregate(fleet as Parameters<typeof client.AggregatorRegistry.aggregate>[0]);
        return reply.type(client.register.contentType).header('x-cutover-proxies', String(fleet.length)).send(await merged.metrics());
      } catch (e) {
        log.warn({ reason: (e as Error).message }, 'fleet metrics unavailable; serving this proxy\'s');
      }
    }
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
