// Whether a server answers plain (non-TLS) Redis: a rediss:// URL pointed at
// one stalls in the TLS handshake (the server waits for a command line that
// never comes) and ioredis says only "connect ETIMEDOUT", retrying for ever.
import net from 'node:net';

/** Sends PING in clear and reads the first byte of the answer: a RESP reply ('+', '-') is plain Redis. */
export function speaksPlainRedis(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (plain: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(plain);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.on('connect', () => s.write('PING\r\n'));
    s.once('data', (d: Buffer) => done(d[0] === 0x2b || d[0] === 0x2d));
    s.on('error', () => done(false));
    s.on('close', () => done(false));
  });
}
