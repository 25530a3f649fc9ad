// Where a mirrored pgbench transaction spends its time: runs pgbench through
// the proxy with mirroring on (optionally under --cpu-prof) and prints the
// statements each server ran per pgbench transaction (pg_stat_statements).
//   npx tsx bench/mirror-profile.ts [--seconds 10] [--clients 16] [--scale 10] [--prof 1] [--tpcb 1]
import { freePort, startCluster, type Cluster } from '../common/local-postgres.ts';
import { arg, pgbench, run, startChild, table } from './lib.ts';
import os from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const seconds = arg('seconds', 10);
const clients = arg('clients', 16);
const scale = arg('scale', 10);
const prof = arg('prof', 0);
const tpcb = arg('tpcb', 0);
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
try {
  for (const c of [source, target]) {
    await c.createDatabase(DB);
    await pgbench(c.binDir, ['-i', '-s', String(scale), '-q', '-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', DB]);
    await psql(c, 'ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY');
    await psql(c, 'CREATE EXTENSION pg_stat_statements');
  }
  await run('node', ['control/cutover.mjs', 'capture', 'install', '--skip-backup', '--source', source.url(DB)]);
  const port = await freePort();
  const profDir = path.join(os.tmpdir(), `cutover-prof-${Date.now()}`);
  child = await startChild('node', [...(prof ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), 'control/cutover.mjs', 'proxy', '--source', source.url(DB), '--target', target.url(DB), '--listen', `127.0.0.1:${port}`, '--control', `127.0.0.1:${await freePort()}`, '--state', path.join(os.tmpdir(), `cutover-prof-${process.pid}.db`)], /proxy listening/, { CUTOVER_LOG_JSON: '1' });
  for (const c of [source, target]) await psql(c, 'SELECT pg_stat_statements_reset()');
  const args = tpcb ? [] : ['-N'];
  const [direct, cpuDirect] = await measured(() => pgbench(source.binDir, [...args, '-c', String(clients), '-j', '2', '-T', String(seconds), '-h', '127.0.0.1', '-p', String(source.port), '-U', 'postgres', DB]));
  for (const c of [source, target]) await psql(c, 'SELECT pg_stat_statements_reset()');
  const [r, cpuMirror] = await measured(() => pgbench(source.binDir, [...args, '-c', String(clients), '-j', '2', '-T', String(seconds), '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', DB]));
  console.log(table([['', 'TPS', 'latency ms'], ['direct', direct.tps.toFixed(0), direct.latencyMs.toFixed(2)], ['mirroring', r.tps.toFixed(0), r.latencyMs.toFixed(2)]]));
  const perTxn = (cpu: Record<string, number>, n: number) => Object.entries(cpu).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${(v / n * 1e6).toFixed(0)}`).join(', ');
  console.log(`CPU µs per transaction: direct: ${perTxn(cpuDirect, direct.processed)}\n  mirroring: ${perTxn(cpuMirror, r.processed)}`);
  const q = `SELECT calls, round((calls::numeric / ${r.processed}), 2) AS per_txn, round(total_exec_time::numeric / calls * 1000) AS exec_us, round(total_plan_time::numeric / greatest(calls, 1) * 1000) AS plan_us, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query FROM pg_stat_statements WHERE calls > ${r.processed / 10} ORDER BY total_exec_time DESC LIMIT 15`;
  console.log('-- source\n' + (await psql(source, q)));
  console.log('-- target\n' + (await psql(target, q)));
  child.kill('SIGTERM');
  child = null;
  if (prof) {
    await new Promise((res) => setTimeout(res, 3000));
    console.log(`profiles in ${profDir}`);
  }
} finally {
  child?.kill('SIGTERM');
  await Promise.all([source.destroy(), target.destroy()]);
}
