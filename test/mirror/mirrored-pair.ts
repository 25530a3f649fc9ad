// The setup every dual-write test shares: a fresh database pair with the same
// schema on both sides and change capture installed on the source.
import pg from 'pg';
import { expect } from 'vitest';
import { databasePair, sql, type DbPair } from '../harness/databases.ts';
import { compareDatabases } from '../harness/compare.ts';
import type { ChangeDrainer } from '../../proxy/mirror/drainer.ts';
import type { ConfigInput } from '../../common/config.ts';
import { installCapture } from '../../proxy/capture/pg-capture.ts';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';

export async function mirroredPair(name: string, schema: string, targetUrl?: (pair: DbPair) => Promise<string>): Promise<DbPair> {
  const pair = await databasePair(name);
  const target = targetUrl ? await targetUrl(pair) : pair.targetUrl;
  await sql(pair.legacyUrl, schema);
  await sql(target, schema);
  await installCaptureAt(pair.legacyUrl);
  return { ...pair, targetUrl: target };
}

/**
 * A mirroring proxy for `pair` whose background drainer does nothing: from
 * then on only a session's own drain-and-apply before its COMMIT can put a row
 * on the target, so a row there right after the client's answer proves it.
 */
export async function proxyWithoutDrainer(pair: DbPair, overrides: Partial<ConfigInput> = {}): Promise<TestProxy> {
  const tp = await mirroringProxy(pair, overrides);
  tp.proxy.drainer!.drainOnce = async () => 0;
  return tp;
}

/** A proxy for `pair` (with `overrides`: reads, auth …), once it has noticed the capture and mirrors. */
export async function mirroringProxy(pair: DbPair, overrides: Partial<ConfigInput> = {}): Promise<TestProxy> {
  const tp = await startTestProxy({ source: pair.legacyUrl, target: pair.targetUrl, ...overrides });
  for (let i = 0; i < 50 && !tp.live.get().mirroring; i++) await new Promise((r) => setTimeout(r, 100));
  expect(tp.live.get().mirroring).toBe(true);
  return tp;
}

/**
 * A trigger on the change table that refuses the drain's DELETE in a
 * transaction that ran `SET LOCAL test.fail_drain = 'on'`: a drain that fails
 * for a reason of its own, not because the client's transaction had failed.
 */
export async function refuseDrainWhenAsked(url: string): Promise<void> {
  await sql(url, `
    CREATE FUNCTION fail_drain() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('test.fail_drain', true) = 'on' THEN RAISE EXCEPTION 'drain refused (test)'; END IF;
      RETURN OLD;
    END $$;
    CREATE TRIGGER fail_drain BEFORE DELETE ON cutover.changes FOR EACH ROW EXECUTE FUNCTION fail_drain();`);
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

/** The drainer run dry, then every one of `tables` equal on both sides. */
export async function expectConverged(drainer: ChangeDrainer, pair: DbPair, tables: string[]): Promise<void> {
  await drainer.flush();
  const diffs = await compareDatabases(pair.legacyUrl, pair.targetUrl, tables);
  expect(diffs.filter((d) => !d.equal)).toEqual([]);
}

/**
 * `table` locked on the database at `url` until the returned function is
 * called: a read of it routed there waits without using CPU, as a long read
 * would (pg_sleep is no routed read: it stays on the source, classify.ts).
 */
export async function lockedAt(url: string, table: string): Promise<() => Promise<void>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`BEGIN; LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return async () => {
    await c.query('ROLLBACK');
    await c.end();
  };
}
