import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { startTestProxy, type TestProxy } from './proxy-harness.ts';
import { exchange, firstError, query, startupPacket } from './raw-wire.ts';

let dir: string;
let tlsSource: Cluster;
let tp: TestProxy;

function selfSigned(name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-tls-'));
  chmodSync(dir, 0o755);
  const server = selfSigned('server');
  chmodSync(server.key, 0o600);
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres', server.key, server.cert]);
  // a source that speaks TLS, so the proxy's own sslmode=require path is exercised too
  tlsSource = await startCluster({ name: 'tls', settings: { ssl: 'on', ssl_cert_file: `'${server.cert}'`, ssl_key_file: `'${server.key}'` } });
  const proxyCert = selfSigned('proxy');
  tp = await startTestProxy({ source: tlsSource.url('postgres') + '?sslmode=require', tlsCert: proxyCert.cert, tlsKey: proxyCert.key });
});
afterAll(async () => {
  await tp?.close();
  await tlsSource?.destroy();
});

describe('TLS', () => {
  it('accepts sslmode=require clients and reaches a TLS-only source over TLS', async () => {
    const c = new pg.Client({ connectionString: tp.url('postgres'), ssl: { rejectUnauthorized: false } });
    await c.connect();
    const r = await c.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    expect(r.rows[0].ssl).toBe(true);
    const tlsSocket = (c as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream;
    expect(tlsSocket.encrypted).toBe(true);
    await c.end();
  });

  it('refuses unencrypted bytes sent behind an SSLRequest, as PostgreSQL does: they may be a man in the middle\'s', async () => {
    // a start-up and a query pipelined behind the SSLRequest were read as the TLS session's, and ran as the client
    const sslRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
    const reply = await exchange(tp.port, Buffer.concat([sslRequest, startupPacket({ user: 'postgres', database: 'postgres' }), query('SELECT 1')]));
    expect(reply.bytes.subarray(0, 1).toString()).toBe('S');
    expect(firstError(reply.bytes.subarray(1))).toMatchObject({ S: 'FATAL', C: '08P01', M: 'received unencrypted data after SSL request' });
    expect(reply.closed).toBe(true);
  });

  it('still serves plaintext clients', async () => {
    const c = new pg.Client({ connectionString: tp.url('postgres') });
    await c.connect();
    expect((await c.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    await c.end();
  });
});
