// The drainer after its source was unreachable: a drain that could not even
// connect fails, and the next one, once the source answers again, works. (A
// failed connect used to leave the drainer marked as running: every later
// drain returned at once, and dirty keys were never re-synced again.)
import net from 'node:net';
import { expect, it } from 'vitest';
import { LiveState } from '../../common/live-state.ts';
import { freePort } from '../../common/local-postgres.ts';
import { silentLogger } from '../../common/log.ts';
import { MirrorApplier } from '../../proxy/mirror/apply.ts';
import { Drainer } from '../../proxy/mirror/drainer.ts';
import { sql } from '../harness/databases.ts';
import { mirroredPair } from './mirrored-pair.ts';

it('drains again once the source is back after a drain that could not connect', async () => {
  const pair = await mirroredPair('mirror_drainer_outage', `CREATE TABLE kv (id int PRIMARY KEY, v text NOT NULL)`);
  // written beside the proxy: a change row only the drainer can bring to the mirror
  await sql(pair.legacyUrl, `INSERT INTO kv VALUES (1, 'one')`);

  const legacy = new URL(pair.legacyUrl);
  const port = await freePort(); // nothing listens there until the forwarder below
  const via = new URL(pair.legacyUrl);
  via.port = String(port);
  const mirror = new MirrorApplier(pair.targetUrl);
  const drainer = new Drainer(via.toString(), mirror, new LiveState({ mirroring: true }), silentLogger, 50);
  // the source comes back: a forwarder on the drainer's port
  const forwarder = net.createServer((client) => {
    const server = net.connect(Number(legacy.port), legacy.hostname);
    client.pipe(server).pipe(client);
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
  });
  try {
    await expect(drainer.drainOnce()).rejects.toThrow(/ECONNREFUSED/);
    await expect(drainer.drainOnce()).rejects.toThrow(/ECONNREFUSED/);
    await new Promise<void>((r) => forwarder.listen(port, '127.0.0.1', r));
    expect(await drainer.drainOnce()).toBe(1);
    expect((await sql(pair.targetUrl, `SELECT id, v FROM kv`)).rows).toEqual([{ id: 1, v: 'one' }]);
    expect(drainer.backlog).toBe(0);
  } finally {
    await drainer.stop();
    await mirror.close();
    await new Promise((r) => forwarder.close(r));
  }
});
