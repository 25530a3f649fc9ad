// A TCP forwarder in front of a database that can stop moving bytes: a frozen host or a cut network, for tests.
import net from 'node:net';
import { freePort } from '../../common/local-postgres.ts';

/**
 * A TCP forwarder that can freeze: frozen, it moves no byte on the connections
 * it holds (they wait in the kernel), as when those flows are cut or the
 * processes at their ends are stuck. New connections pass (`hold: false`: only
 * some flows are stuck) or wait for the thaw too (`hold: true`: the whole host).
 */
export async function freezableForwarder(to: URL): Promise<{ port: number; freeze(opts: { hold: boolean }): void; thaw(): void; close(): Promise<void> }> {
  let frozen: { hold: boolean } | null = null;
  const sockets = new Set<net.Socket>();
  let waiting: (() => void)[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(to.port), to.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => (s === client ? upstream : client).destroy());
    }
    const flow = () => client.pipe(upstream).pipe(client);
    if (frozen?.hold) waiting.push(flow);
    else flow();
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    freeze: (opts) => {
      frozen = opts;
      for (const s of sockets) s.pause();
    },
    thaw: () => {
      frozen = null;
      for (const s of sockets) s.resume();
      for (const f of waiting.splice(0)) f();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
