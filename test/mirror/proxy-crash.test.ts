// The proxy killed (SIGKILL) under a mirrored write load, three times over.
// Apply-before-commit writes the mirror first, so a transaction caught
// between its apply and its source COMMIT is on the mirror while the source
// rolls it back (its connection died with the proxy). Each apply also records
// its source transaction in the mirror's ledger, in the same transaction: the
// next proxy's drainer finds the ones the source did not commit and re-syncs
// their keys. Before the ledger: 1 to 4 such rows stayed on the mirror in 2
// runs of 3.
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../common/local-postgres.ts';
import { sql, type DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import { spawnCli } from '../harness/cli.ts';
import { startTestProxy } from '../proxy/proxy-harness.ts';
import { mirroredPair } from './mirrored-pair.ts';

let pair: DbPair;

beforeAll(async () => {
  pair = await mirroredPair('mirror_proxy_crash', 'CREATE TABLE log (id bigserial PRIMARY KEY, w int NOT NULL, i int NOT NULL)');
});

/** Clients inserting through the proxy on `port` until their connection dies; how many were acknowledged. */
async function insertUntilGone(port: number): Promise<number> {
  let acked = 0;
  await Promise.all(Array.from({ length: 12 }, async (_, w) => {
    const c = new pg.Client({ connectionString: `postgres://postgres:postgres@127.0.0.1:${port}/${pair.name}` });
    c.on('error', () => undefined);
    // a loaded machine may still be connecting when the kill comes: that client simply never wrote
    if (!(await c.connect().then(() => true, () => false))) return;
    for (let i = 0; ; i++) {
      try {
        await c.query('INSERT INTO log (w, i) VALUES ($1, $2)', [w, i]);
        acked++;
      } catch {
        break;
      }
    }
    await c.end().catch(() => undefined);
  }));
  return acked;
}

describe('the proxy killed under mirrored writes', () => {
  it('three SIGKILLs mid-load: the next proxy repairs what the source did not commit; both databases equal', async () => {
    let acked = 0;
    for (let round = 0; round < 3; round++) {
      const port = await freePort();
      const p = await spawnCli(['proxy', '--source', pair.legacyUrl, '--target', pair.targetUrl, '--listen', `127.0.0.1:${port}`, '--control', `127.0.0.1:${await freePort()}`], 'proxy listening');
      const load = insertUntilGone(port);
      await new Promise((r) => setTimeout(r, 1_200));
      p.child.kill('SIGKILL');
      acked += await load;
    }
    const onSource = (await sql(pair.legacyUrl, 'SELECT count(*)::int AS n FROM log')).rows[0].n as number;
    // every acknowledged insert is on the source (an unacknowledged one may be too)
    expect(onSource).toBeGreaterThanOrEqual(acked);

    const tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl });
    try {
      const deadline = Date.now() + 30_000;
      let diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, ['public.log']);
      while (!diffs.every((d) => d.equal) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, ['public.log']);
      }
      console.log(`3 proxy kills: ${acked} acknowledged inserts, ${onSource} on the source; ${JSON.stringify(diffs)}`);
      expect(diffs.filter((d) => !d.equal)).toEqual([]);
      // the ledger keeps nothing once its transactions are settled
      await new Promise((r) => setTimeout(r, 3_500));
      expect((await sql(pair.targetUrl, 'SELECT count(*)::int AS n FROM cutover_mirror.applied')).rows[0].n).toBe(0);
    } finally {
      await tp.close();
    }
  }, 120_000);
});
