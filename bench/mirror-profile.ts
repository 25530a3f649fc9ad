// Where a mirrored pgbench transaction spends its time: runs pgbench through
// the proxy with mirroring on (optionally under --cpu-prof) and prints the
// statements each server ran per pgbench transaction (pg_stat_statements).
// With --base DIR, the proxy of another checkout (e.g. a worktree of main) is
// measured too, interleaved with this one round by round, and medians printed:
// a before/after comparison that shared-machine load skews less.
// --passthrough 1 adds the proxy with no mirroring to each round: the ceiling.
// --select 1 runs pgbench -S instead, with --reads N (default 50) of the reads
// sent to the target: what a routed read costs beside passthrough.
//   npx tsx bench/mirror-profile.ts [--seconds 10] [--clients 16] [--scale 10] [--prof 1] [--tpcb 1] [--select 1 --reads 50] [--connect 1] [--base DIR] [--rounds 3] [--passthrough 1] [--warmup 3]
import { freePort, startCluster, type Cluster } from '../common/local-postgres.ts';
import { arg, keptTmp, median, pgbench, run, startChild, table, type PgbenchResult } from './lib.ts';
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const seconds = arg('seconds', 10);
const clients = arg('clients', 16);
const scale = arg('scale', 10);
const prof = arg('prof', 0);
const tpcb = arg('tpcb', 0);
const rounds = arg('rounds', 1);
const passthrough = arg('passthrough', 0);
const select = arg('select', 0);
const reads = arg('reads', 50);
// untimed pgbench seconds through each new proxy first: a proxy runs for hours, and its first
// seconds compile the SQL parser's WebAssembly and the hot JavaScript in the background
const warmup = arg('warmup', 3);
// --connect 1: a new connection per transaction (pgbench -C), what log-in costs through the proxy
const connect = arg('connect', 0);
const baseAt = process.argv.indexOf('--base');
const base = baseAt > 0 ? process.argv[baseAt + 1]! : null;
const DB = 'bench';
const settings = { shared_preload_libraries: "'pg_stat_statements'", 'pg_stat_statements.track': 'all' };
const [source, target] = await Promise.all([startCluster({ name: 'prof-src', durable: true, settings }), startCluster({ name: 'prof-dst', durable: true, settings })]);
const psql = async (c: Cluster, sqlText: string) =>
  (await run(path.join(c.binDir, 'psql'), ['-X', '-q', '-A', '-F', ' | ', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', '-d', DB, '-c', sqlText], { env: { ...process.env, PGPASSWORD: 'postgres' } })).stdout;
let child: { pid?: number; kill(sig?: NodeJS.Signals): boolean } | null = null;

/** CPU seconds so far of every process, summed by the tree it belongs to (proxy, source, target, pgbench). */
function cpuByTree(roots: Record<string, number>): Record<string, number> {
  const procs = new Map<number, { ppid: number; cpu: number; comm: string }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = st.lastIndexOf(')');
      const f = st.slice(close + 2).split(' ');
      procs.set(Number(d), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100, comm: st.slice(st.indexOf('(') + 1, close) });
    } catch { /* gone */ }
  }
  const out: Record<string, number> = { other: 0 };
  for (const [pid, p] of procs) {
    let name = p.comm === 'pgbench' ? 'pgbench' : 'other';
    for (let cur: number | undefined = pid; cur && cur > 1; cur = procs.get(cur)?.ppid) {
      const hit = Object.entries(roots).find(([, r]) => r === cur);
      if (hit) { name = hit[0]; break; }
    }
    out[name] = (out[name] ?? 0) + p.cpu;
  }
  return out;
}
const postmaster = (c: Cluster) => Number(readFileSync(path.join(c.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
async function measured<T>(fn: () => Promise<T>): Promise<[T, Record<string, number>]> {
  const roots = { proxy: child?.pid ?? -1, source: postmaster(source), target: postmaster(target) };
  const before = cpuByTree(roots);
  const r = await fn();
  const after = cpuByTree(roots);
  return [r, Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)]))];
}
/** A proxy from the checkout at `dir` (its own control/cutover.mjs), mirroring source → target. */
async function startProxy(dir: string, profDir: string | null, mirror = true): Promise<{ port: number; control: number; child: ChildProcess }> {
  const port = await freePort();
  const control = await freePort();
  const c = await startChild('node', [...(profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), path.join(dir, 'control/cutover.mjs'), 'proxy', '--source', source.url(DB), ...(mirror ? ['--target', target.url(DB), ...(select ? ['--reads', String(reads)] : [])] : ['--reads', '0']), '--listen', `127.0.0.1:${port}`, '--control', `127.0.0.1:${control}`, '--state', path.join(os.tmpdir(), `cutover-prof-${process.pid}-${Date.now()}.db`)], /proxy listening/, { CUTOVER_LOG_JSON: '1' });
  return { port, control, child: c };
}
try {
  for (const c of [source, target]) {
    await c.createDatabase(DB);
    await pgbench(c.binDir, ['-i', '-s', String(scale), '-q', '-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', DB]);
    await psql(c, 'ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY');
    await psql(c, 'CREATE EXTENSION pg_stat_statements');
  }
  // which checkout's capture is installed: a --base run gets its own (the triggers may be what changed)
  let installed: string | null = null;
  const capture = async (what: 'install' | 'remove', dir = installed ?? '.') => {
    await run('node', [path.join(dir, 'control/cutover.mjs'), 'capture', what, ...(what === 'install' ? ['--skip-backup'] : []), '--source', source.url(DB)]);
    installed = what === 'install' ? dir : null;
  };
  const profDir = prof ? path.join(keptTmp, `cutover-prof-${Date.now()}`) : null;
  const args = [...(select ? ['-S'] : tpcb ? [] : ['-N']), ...(connect ? ['-C'] : [])];
  const bench = (port: number) => pgbench(source.binDir, [...args, '-c', String(clients), '-j', '2', '-T', String(seconds), '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', DB]);
  const perTxn = (cpu: Record<string, number>, n: number) => Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, (v / n) * 1e6]));
  const variants: [string, string][] = [['mirroring', '.'], ...(base ? [['base mirroring', base] as [string, string]] : []), ...(passthrough ? [['passthrough', '.'] as [string, string]] : [])];
  const figures = new Map<string, { tps: number; latencyMs: number; cpu: Record<string, number> }[]>();
  const note = (name: string, r: PgbenchResult, cpu: Record<string, number>) => {
    const list = figures.get(name) ?? [];
    list.push({ tps: r.tps, latencyMs: r.latencyMs, cpu: perTxn(cpu, r.processed) });
    figures.set(name, list);
  };
  for (let round = 0; round < rounds; round++) {
    const last = round === rounds - 1;
    child = null;
    // direct without capture, and nothing of it left in the change table for the drainer to replay during a measured run
    const [direct, cpuDirect] = await measured(() => bench(source.port));
    note('direct', direct, cpuDirect);
    // alternate the order each round so drift in the machine's load favours neither; passthrough
    // first, before capture (no triggers, and no change rows left for the mirroring runs)
    const order = round % 2 ? [...variants].reverse() : variants;
    for (const [name, dir] of [...order.filter(([n]) => n === 'passthrough'), ...order.filter(([n]) => n !== 'passthrough')]) {
      if (name !== 'passthrough' && installed !== dir) {
        if (installed) await capture('remove');
        await capture('install', dir);
      }
      const p = await startProxy(dir, profDir ? path.join(profDir, name.replace(/\W+/g, '-')) : null, name !== 'passthrough');
      child = p.child;
      if (warmup > 0) await pgbench(source.binDir, [...args, '-c', String(clients), '-j', '2', '-T', String(warmup), '-h', '127.0.0.1', '-p', String(p.port), '-U', 'postgres', DB]);
      for (const c of [source, target]) await psql(c, 'SELECT pg_stat_statements_reset()');
      const [r, cpu] = await measured(() => bench(p.port));
      note(name, r, cpu);
      // sessions per mirror transaction (group commit), where the proxy reports it
      const metrics = await fetch(`http://127.0.0.1:${p.control}/metrics`).then((x) => x.text(), () => '');
      const m = (k: string) => Number(new RegExp(`^cutover_mirror_group_sessions_${k} ([\\d.e+]+)`, 'm').exec(metrics)?.[1] ?? NaN);
      if (m('count')) console.log(`  ${name}: ${(m('sum') / m('count')).toFixed(2)} sessions per mirror transaction`);
      console.log(`round ${round + 1} ${name}: ${r.tps.toFixed(0)} TPS (direct ${direct.tps.toFixed(0)}), CPU µs/txn ${Object.entries(perTxn(cpu, r.processed)).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
      if (last) {
        const q = `SELECT calls, round((calls::numeric / ${r.processed}), 2) AS per_txn, round(total_exec_time::numeric / calls * 1000) AS exec_us, round(total_exec_time::numeric) AS total_ms, round(total_plan_time::numeric / greatest(calls, 1) * 1000) AS plan_us, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15`;
        console.log(`-- ${name}: source\n` + (await psql(source, q)));
        console.log(`-- ${name}: target\n` + (await psql(target, q)));
      }
      child.kill('SIGTERM');
      child = null;
      await new Promise((res) => setTimeout(res, 500));
    }
    if (installed) await capture('remove');
  }
  const trees = ['proxy', 'source', 'target', 'pgbench', 'other'];
  const rows: (string | number)[][] = [['', 'TPS', 'ratio', 'latency ms', ...trees.map((t) => `${t} µs`)]];
  const directTps = median(figures.get('direct')!.map((f) => f.tps));
  for (const [name, list] of figures) {
    const tps = median(list.map((f) => f.tps));
    rows.push([name, tps.toFixed(0), (tps / directTps).toFixed(3), median(list.map((f) => f.latencyMs)).toFixed(2), ...trees.map((t) => median(list.map((f) => f.cpu[t] ?? 0)).toFixed(0))]);
  }
  console.log(`pgbench ${connect ? '-C ' : ''}${select ? `-S, reads ${reads} % to the target when mirroring,` : tpcb ? 'tpcb-like' : '-N'} -c ${clients} -T ${seconds}, medians of ${rounds} round(s); CPU per transaction by process tree`);
  console.log(table(rows));
  if (profDir) {
    await new Promise((res) => setTimeout(res, 3000));
    console.log(`profiles in ${profDir}`);
  }
} finally {
  child?.kill('SIGTERM');
  await Promise.all([source.destroy(), target.destroy()]);
}
