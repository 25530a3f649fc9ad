// The setup every dual-write test shares: a fresh database pair with the same
// schema on both sides and change capture installed on the source.
import pg from 'pg';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { installCapture } from '../../proxy/capture/pg-capture.ts';

export async function mirroredPair(name: string, schema: string, targetUrl?: (pair: DbPair) => Promise<string>): Promise<DbPair> {
  const pair = await databasePair(name);
  const target = targetUrl ? await targetUrl(pair) : pair.targetUrl;
  await sql(pair.legacyUrl, schema);
  await sql(target, schema);
  await installCaptureAt(pair.legacyUrl);
  return { ...pair, targetUrl: target };
}

/** `cutover capture install`'s work on the database at `url`, over a connection of its own. */
export async function installCaptureAt(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await installCapture(c);
  } finally {
    await c.end();
  }
}
