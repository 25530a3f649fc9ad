// The control API's answers and the proxy's log never show a password: a 500
// answered the internal error's message as it was, a connection string's
// password included, and the log line carried the error whole (message and
// stack). Both now go through the redaction the logs use (redactUrl).
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../common/config.ts';
import { createLogger } from '../../common/log.ts';
import { redactUrl } from '../../common/urls.ts';
import { databasePair, type DbPair } from '../harness/databases.ts';
import { startControlledProxy, type ControlledProxy } from './controlled-proxy.ts';

const SECRET = 'Api-Leak-7731';
let pair: DbPair;
let cp: ControlledProxy;
const lines: string[] = [];

beforeAll(async () => {
  pair = await databasePair('api_redaction');
  const log = createLogger('info', 'test', new Writable({ write: (c, _e, cb) => (lines.push(c.toString()), cb()) }));
  cp = await startControlledProxy(
    { source: pair.legacyUrl, target: pair.targetUrl },
    {
      log,
      hooks: {
        // an internal failure quoting what a driver was given, as pg and ioredis errors can
        promote: async () => {
          throw new Error(`could not reach postgres://app:${SECRET}@db.internal:5432/app (host=db.internal password=${SECRET} port=5432) via redis://:${SECRET}@cache:6379`);
        },
      },
    },
  );
});
afterAll(async () => {
  await cp?.close();
});

describe('control API answers and logs are redacted', () => {
  it('a 500 answers the error with every password masked, and its log line carries none', async () => {
    const r = await cp.api('POST', '/promote', {});
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ error: 'could not reach postgres://app:***@db.internal:5432/app (host=db.internal password=*** port=5432) via redis://:***@cache:6379' });
    const logged = lines.join('');
    expect(logged).toContain('control API error');
    expect(logged).toContain('could not reach postgres://app:***@db.internal:5432/app');
    expect(logged).not.toContain(SECRET);
  });

  it('an operator reason quoting a connection string is shown masked in the status history', async () => {
    const r = await cp.api('PUT', '/phase', { phase: 'PREFLIGHT', reason: `checked postgres://app:${SECRET}@db.internal/app` });
    expect(r.status).toBe(200);
    expect(JSON.stringify(r.json)).not.toContain(SECRET);
    expect(r.json.history[0].reason).toBe('checked postgres://app:***@db.internal/app');
    expect(JSON.stringify((await cp.api('GET', '/status')).json)).not.toContain(SECRET);
  });

  it('the control token and a Redis state password, once configured, are masked like the database passwords', () => {
    loadConfig({ token: 'tok-Zr81-qq', state: 'redis://:St8-Redis-pw@cache:6379/0' }, {});
    expect(redactUrl('refused tok-Zr81-qq; ioredis: WRONGPASS St8-Redis-pw')).toBe('refused ***; ioredis: WRONGPASS ***');
    expect(redactUrl('authorization: Bearer abc.def')).toBe('authorization: Bearer ***');
  });
});
