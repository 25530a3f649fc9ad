// Dual-write cost, measured in one run on the same two servers:
//   direct            pgbench on the source alone
//   native sync LR    PostgreSQL's own logical replication, synchronous_commit = remote_apply
//   cutover passthrough  through the proxy with no mirroring (--reads 0): the ceiling for mirroring
//   PgBouncer passthrough  the same hop through PgBouncer (session mode), when it is installed
//   cutover           through the proxy, mirroring every write before its commit
// for pgbench -N (simple-update) and tpcb-like, plus select-only with reads at
// 50 % against the proxy in passthrough. Prints TPS and ratios.
//   npx tsx bench/mirror-pgbench.ts [--seconds 15] [--clients 16] [--scale 10]
import { freePort, startCluster, type Cluster } from '../common/local-postgres.ts';
import { arg, pgbench, run, startChild, table } from './lib.ts';
import { startPgbouncer } from './pgbouncer.ts';
import os from 'node:os';
import path from 'node:path';

const seconds = arg('seconds', 15);
const clients = arg('clients', 16);
const scale = arg('scale', 10);
const DB = 'bench';

const [source, target] = await Promise.all([startCluster({ name: 'bench-src', durable: true }), startCluster({ name: 'bench-dst', durable: true })]);
const psql = (c: Cluster, sqlText: string) =>
  run(path.join(c.binDir, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', '-d', DB, '-c', sqlText], { env: { ...process.env, PGPASSWORD: 'postgres' } });
const bench = (port: number, args: string[], n = clients) =>
  pgbench(source.binDir, [...args, '-c', String(n), '-j', String(Math.min(2, n)), '-T', String(seconds), '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', DB]);
const children: { kill(sig?: NodeJS.Signals): boolean }[] = [];

async function proxy(extra: string[], env: Record<string, string> = {}): Promise<number> {
  const port = await freePort();
  children.push(await startChild('node', ['control/cutover.mjs', 'proxy', '--source', source.url(DB), '--listen', `127.0.0.1:${port}`, '--control', `127.0.0.1:${await freePort()}`, '--state', path.join(os.tmpdir(), `cutover-bench-${process.pid}-${Date.now()}.db`), ...extra], /proxy listening/, { CUTOVER_LOG_JSON: '1', ...env }));
  return port;
}
const rows: (string | number)[][] = [['workload', 'variant', 'TPS', 'avg latency ms', 'ratio', 'failed']];
const results: Record<string, number> = {};
const record = (workload: string, variant: string, r: { tps: number; latencyMs: number; failed: number }, base: string) => {
  results[`${workload}/${variant}`] = r.tps;
  rows.push([workload, variant, r.tps.toFixed(0), r.latencyMs.toFixed(2), (r.tps / results[`${workload}/${base}`]!).toFixed(3), r.failed]);
};

/** A row for PgBouncer (session mode) in front of the source, when it is installed. */
async function bouncerRow(workload: string, args: readonly string[], base: string): Promise<void> {
  const b = await startPgbouncer(source.port, DB, clients);
  if (!b) return;
  try {
    record(workload, 'PgBouncer passthrough', await bench(b.port, [...args]), base);
  } finally {
    b.stop();
  }
}
function stopProxies(): void {
  for (const c of children.splice(0)) c.kill('SIGTERM');
}

try {
  for (const c of [source, target]) {
    await c.createDatabase(DB);
    await pgbench(c.binDir, ['-i', '-s', String(scale), '-q', '-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', DB]);
    // every replicated table needs a key (pgbench_history has none): same change on both, for every variant
    await psql(c, 'ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY');
  }

  for (const [workload, args] of [['-N', ['-N']], ['tpcb', []]] as const) {
    record(workload, 'direct', await bench(source.port, [...args]), 'direct');
    // what the proxy costs before any mirroring: the most mirroring could reach
    const plain = await proxy(['--reads', '0']);
    record(workload, 'cutover passthrough', await bench(plain, [...args]), 'direct');
    stopProxies();
    // the same hop through a C proxy: what any proxy in the path costs on these cores
    await bouncerRow(workload, args, 'direct');

    // PostgreSQL's own synchronous logical replication to the same target
    await psql(source, 'CREATE PUBLICATION cutover_bench FOR ALL TABLES');
    await psql(target, `CREATE SUBSCRIPTION cutover_bench CONNECTION 'host=127.0.0.1 port=${source.port} user=postgres password=postgres dbname=${DB}' PUBLICATION cutover_bench WITH (copy_data = false)`);
    await psql(source, "ALTER SYSTEM SET synchronous_standby_names = 'cutover_bench'");
    await psql(source, "ALTER SYSTEM SET synchronous_commit = 'remote_apply'");
    await psql(source, 'SELECT pg_reload_conf()');
    await new Promise((r) => setTimeout(r, 2000));
    record(workload, 'native sync LR', await bench(source.port, [...args]), 'direct');
    await psql(source, 'ALTER SYSTEM RESET synchronous_standby_names');
    await psql(source, 'ALTER SYSTEM RESET synchronous_commit');
    await psql(source, 'SELECT pg_reload_conf()');
    await psql(target, 'DROP SUBSCRIPTION cutover_bench');
    await psql(source, 'DROP PUBLICATION cutover_bench');
    // start the mirror from equal data again
    await psql(target, 'TRUNCATE pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history');
    await run('sh', ['-c', `PGPASSWORD=postgres ${path.join(source.binDir, 'pg_dump')} -a -h 127.0.0.1 -p ${source.port} -U postgres ${DB} | PGPASSWORD=postgres ${path.join(target.binDir, 'psql')} -X -q -h 127.0.0.1 -p ${target.port} -U postgres ${DB}`], { maxBuffer: 1 << 30 });

    await run('node', ['control/cutover.mjs', 'capture', 'install', '--skip-backup', '--source', source.url(DB)]);
    const port = await proxy(['--target', target.url(DB)]);
    record(workload, 'cutover mirroring', await bench(port, [...args]), 'direct');
    stopProxies();
    // the same with the mirror's commits asynchronous, as PostgreSQL's own subscription workers run
    const asyncPort = await proxy(['--target', target.url(DB)], { CUTOVER_MIRROR_SYNCHRONOUS_COMMIT: 'off' });
    record(workload, 'cutover, mirror sync_commit off', await bench(asyncPort, [...args]), 'direct');
    stopProxies();
    await run('node', ['control/cutover.mjs', 'capture', 'remove', '--source', source.url(DB)]);
  }

  // select-only: passthrough proxy vs reads at 50 % to the target (mirroring on)
  const passthrough = await proxy([]);
  record('-S', 'cutover passthrough', await bench(passthrough, ['-S']), 'cutover passthrough');
  stopProxies();
  await run('node', ['control/cutover.mjs', 'capture', 'install', '--skip-backup', '--source', source.url(DB)]);
  // what the parsing relay costs before any read leaves the source
  const r0 = await proxy(['--target', target.url(DB), '--reads', '0']);
  record('-S', 'cutover mirroring, reads 0 %', await bench(r0, ['-S']), 'cutover passthrough');
  stopProxies();
  const split = await proxy(['--target', target.url(DB), '--reads', '50']);
  record('-S', 'cutover reads 50 %', await bench(split, ['-S']), 'cutover passthrough');
  stopProxies();
  const direct = await bench(source.port, ['-S']);
  record('-S', 'direct', direct, 'cutover passthrough');
  await bouncerRow('-S', ['-S'], 'cutover passthrough');
  // the capacity a second server adds on this machine, with no proxy at all: reads at 50 % can gain no more
  const halves = await Promise.all([source.port, target.port].map((p) => bench(p, ['-S'], Math.ceil(clients / 2))));
  record('-S', 'direct, half the clients on each server', { tps: halves[0]!.tps + halves[1]!.tps, latencyMs: (halves[0]!.latencyMs + halves[1]!.latencyMs) / 2, failed: halves[0]!.failed + halves[1]!.failed }, 'cutover passthrough');

  console.log(`pgbench -c ${clients} -j 2 -T ${seconds}, scale ${scale}, durable servers; ratios to the first row of each workload`);
  console.log(table(rows));
} finally {
  stopProxies();
  await Promise.all([source.destroy(), target.destroy()]);
}
