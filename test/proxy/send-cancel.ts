// A CancelRequest for a pg.Client's session, sent as a driver sends one: on a
// connection of its own to the proxy's port, closed once written.
import net from 'node:net';
import type pg from 'pg';
import { cancelRequest } from '../../proxy/messages.ts';

/** Resolves once the proxy has closed the cancel's connection (or it failed). */
export function sendCancel(port: number, c: pg.Client): Promise<void> {
  const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
  return new Promise<void>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(cancelRequest(processID, secretKey)));
    s.on('close', () => resolve());
    s.on('error', () => resolve());
  });
}
