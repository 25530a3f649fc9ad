// With a token, /healthz and the status page answer without it, by path: a
// load balancer's probe with a query string (/healthz?probe=lb) was refused 401
// and the proxy taken out of rotation. Everything else still needs the token.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { databasePair } from '../harness/databases.ts';
import { startControlledProxy, type ControlledProxy } from './controlled-proxy.ts';

const TOKEN = 'pub-path-token-31';
let cp: ControlledProxy;

beforeAll(async () => {
  const pair = await databasePair('api_public_paths');
  cp = await startControlledProxy({ source: pair.legacyUrl, target: pair.targetUrl, token: TOKEN });
});
afterAll(async () => {
  await cp?.close();
});

it('/healthz and / answer with a query string and no token; /status?… and /metrics still need it', async () => {
  const get = (p: string, token?: string) => fetch(`http://${cp.control}${p}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  const health = await get('/healthz?probe=lb');
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ ok: true });
  expect((await get('/?tab=1')).status).toBe(200);
  for (const p of ['/status?x=1', '/metrics', '/healthz/../status']) {
    const r = await get(p);
    expect(r.status, p).toBe(401);
    expect(await r.json()).toEqual({ error: 'missing or wrong bearer token' });
  }
  expect((await get('/status', `${TOKEN}x`)).status).toBe(401);
  expect((await get('/status', TOKEN.slice(0, -1))).status).toBe(401);
  expect((await get('/status', TOKEN)).status).toBe(200);
});
