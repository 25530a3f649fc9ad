// `cutover resume` after a promote whose proxy died between its pause and its
// resume, in the middle of the flip (capture already moved to the new
// database): the pause is refused while it is recent (a promote may still be
// running elsewhere), lifted with --force, capture is back on the source of
// truth only, the write that waited goes through and is mirrored. Without a
// proxy, the CLI does the same against the databases and the store.
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { sql, type DbPair } from '../harness/databases.ts';
import { cli } from '../harness/cli.ts';
import { mirroredPair } from '../mirror/mirrored-pair.ts';
import { WORKLOAD_SCHEMA } from '../mirror/workload.ts';
import { startControlledProxy, walkToFullReads, type ControlledProxy } from './controlled-proxy.ts';
import { openStateStore } from '../../control/state/store.ts';
import { installCaptureOn, removeCaptureOn } from '../../proxy/promote/database-steps.ts';

const SCHEMA = WORKLOAD_SCHEMA + `
  CREATE TABLE ledger (id bigserial PRIMARY KEY, note text NOT NULL);`;

let pair: DbPair;
let cp: ControlledProxy;

beforeAll(async () => {
  pair = await mirroredPair('control_resume', SCHEMA);
  cp = await startControlledProxy({ source: pair.legacyUrl, target: pair.targetUrl });
  for (let i = 0; i < 50 && !cp.live.get().mirroring; i++) await new Promise((r) => setTimeout(r, 100));
  await walkToFullReads(cp);
});
afterAll(async () => {
  await cp?.close();
});

async function triggers(url: string): Promise<number> {
  return (await sql(url, `SELECT count(*)::int AS n FROM pg_trigger WHERE tgname LIKE 'cutover_capture_%'`)).rows[0].n;
}

/** What a promote leaves when its proxy dies mid-flip: the pause set (seen by every proxy first), capture retired on legacy and installed on new. */
async function dieMidPromote(): Promise<void> {
  const store = await openStateStore(cp.state);
  try {
    await store.change(() => ({ paused: true }), 'proxy that died', 'promote: pause new transactions (at most 10 s)');
  } finally {
    await store.close();
  }
  for (let i = 0; i < 60 && !cp.live.get().paused; i++) await new Promise((r) => setTimeout(r, 100));
  await removeCaptureOn(pair.legacyUrl);
  // the drainer looks at capture meanwhile: missing capture while paused must not switch mirroring off
  await new Promise((r) => setTimeout(r, 400));
  await installCaptureOn(pair.targetUrl);
}

it('lifts a stale pause with the roles unchanged and capture back where they say; the waiting write is mirrored', async () => {
  await dieMidPromote();
  expect(cp.live.get().paused).toBe(true);
  expect(cp.live.get().mirroring).toBe(true);

  const c = new pg.Client({ connectionString: cp.url(pair.name) });
  await c.connect();
  let landed = false;
  const write = c.query(`INSERT INTO ledger (note) VALUES ('waited') RETURNING id`).then((r) => ((landed = true), r.rows[0].id as string));
  await new Promise((r) => setTimeout(r, 400));
  expect(landed).toBe(false); // queued behind the pause

  const recent = await cp.api('POST', '/resume', {});
  expect(recent.status).toBe(409);
  expect(recent.json.error).toMatch(/may still be running on another proxy/);

  const r = await cp.api('POST', '/resume', { force: true, reason: 'promote proxy died' });
  expect(r.status).toBe(200);
  expect(r.json).toMatchObject({ paused: false, phase: 'SHIFTING', sourceOfTruth: 'legacy', resume: { sourceOfTruth: 'legacy' } });
  const id = await write;
  await c.end();
  expect(await triggers(pair.legacyUrl)).toBeGreaterThan(0);
  expect(await triggers(pair.targetUrl)).toBe(0);
  const onTarget = await sql(pair.targetUrl, 'SELECT note FROM ledger WHERE id = $1', [id]);
  expect(onTarget.rows[0]?.note).toBe('waited');
  const audit = await cp.api('GET', '/status');
  expect(JSON.stringify(audit.json.history)).toContain('promote proxy died');

  const again = await cp.api('POST', '/resume', { force: true });
  expect(again.status).toBe(409);
  expect(again.json.error).toMatch(/no pause is set/);
});

it('the CLI does the same without a proxy: against the databases and the state store', async () => {
  const control = cp.control;
  await cp.close();
  cp = undefined as unknown as ControlledProxy;
  const state = (await import('node:path')).join((await import('node:os')).tmpdir(), `cutover-resume-${process.pid}.db`);
  const store = await openStateStore(state);
  await store.change(() => ({ paused: true }), 'proxy that died', 'promote: pause new transactions (at most 10 s)');
  await store.close();
  await removeCaptureOn(pair.legacyUrl);
  const args = ['--state', state, '--source', pair.legacyUrl, '--target', pair.targetUrl, '--control', control];
  const early = await cli(['resume', ...args]);
  expect(early.code).toBe(1);
  expect(early.stderr).toMatch(/may still be running/);
  const r = await cli(['resume', '--force', ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/pause lifted .*source of truth: the legacy database \(unchanged\).*state store changed directly/);
  expect(await triggers(pair.legacyUrl)).toBeGreaterThan(0);
  const after = await openStateStore(state);
  expect((await after.load()).paused).toBe(false);
  await after.close();
  const none = await cli(['resume', '--force', ...args]);
  expect(none.code).toBe(1);
  expect(none.stderr).toMatch(/no pause is set/);
});
