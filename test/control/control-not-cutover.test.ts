// --control given the address of some other HTTP server (a web server, the
// metrics port of another tool): `cutover status` said "control API GET
// /status: 404 Not Found", and a 200 page was taken for an empty answer. Now
// the one line says it is not cutover's control API and which flag to check.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';

let server: http.Server;
let control: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/step') res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>');
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  control = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

it('a --control that is not a cutover proxy: one line naming the flag, exit 1, for an error page and a 200 page alike', async () => {
  const status = await cli(['status', '--control', control]);
  expect(status.code).toBe(1);
  expect(status.stderr).toBe(`cutover: control API GET /status: 404 Not Found, not an answer of cutover's control API: is --control ${control} the address a proxy's --control serves?\n`);
  const step = await cli(['step', '--control', control]);
  expect(step.code).toBe(1);
  expect(step.stderr).toBe(`cutover: control API POST /step: 200 OK, not an answer of cutover's control API: is --control ${control} the address a proxy's --control serves?\n`);
});
