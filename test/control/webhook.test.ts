// The alert webhook with a user and password in its URL: fetch refuses such a
// URL outright, so every alert failed; they go as Basic authentication, and
// neither they nor the path's secret appear in the log.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { expect, it } from 'vitest';
import { postWebhook } from '../../control/webhook.ts';

it('a webhook URL with credentials is called with Basic authentication, its secrets in no log line', async () => {
  let server: http.Server | undefined;
  const got = new Promise<{ auth?: string; url?: string; body: string }>((resolve, reject) => {
    setTimeout(() => reject(new Error('the webhook was not called within 3 s')), 3_000);
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.end('ok');
        resolve({ auth: req.headers.authorization, url: req.url, body });
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server!.address() as AddressInfo;
      postWebhook(`http://hook%20user:p%40ss:w@127.0.0.1:${port}/hook/SECRETPATH?key=SECRETQ`, { event: 'rollback', reason: 'test' }, log);
    });
  });
  let lines = '';
  const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => ((lines += c.toString()), cb()) }));
  const r = await got.finally(() => server?.close());
  expect(r.auth).toBe(`Basic ${Buffer.from('hook user:p@ss:w').toString('base64')}`);
  expect(r.url).toBe('/hook/SECRETPATH?key=SECRETQ');
  expect(JSON.parse(r.body)).toEqual({ event: 'rollback', reason: 'test' });
  for (let i = 0; i < 50 && !lines.includes('alert webhook'); i++) await new Promise((res) => setTimeout(res, 20));
  expect(lines).toContain('alert webhook called');
  for (const secret of ['p@ss', 'p%40ss', 'hook user', 'SECRETPATH', 'SECRETQ']) expect(lines).not.toContain(secret);
});
