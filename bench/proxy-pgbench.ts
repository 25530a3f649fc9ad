// pgbench -S through nothing, through Cutover and through PgBouncer (session
// mode), interleaved rounds on the same server in one run; prints median TPS,
// average latency and each ratio to direct.
//   npx tsx bench/proxy-pgbench.ts [--seconds 20] [--rounds 3] [--clients 16] [--workers 1]
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { freePort, startCluster } from '../common/local-postgres.ts';
import { arg, median, pgbench, startChild, table } from './lib.ts';

const seconds = arg('seconds', 20);
const rounds = arg('rounds', 3);
const clients = arg('clients', 16);
const workers = arg('workers', 1);

const pgCluster = await startCluster({ name: 'bench-proxy', durable: true });
const bin = pgCluster.binDir;
const children: { kill(sig?: NodeJS.Signals): boolean }[] = [];
try {
  const db = 'bench';
  await pgCluster.createDatabase(db);
  await pgbench(bin, ['-i', '-s', '10', '-q', '-h', '127.0.0.1', '-p', String(pgCluster.port), '-U', 'postgres', db]);

  const cutoverPort = await freePort();
  const cliArgs = ['control/cutover.mjs', 'proxy', '--source', pgCluster.url(db), '--listen', `127.0.0.1:${cutoverPort}`, '--control', `127.0.0.1:${await freePort()}`, '--state', path.join(os.tmpdir(), `cutover-bench-${process.pid}-${Date.now()}.db`)];
  if (workers > 1) cliArgs.push('--processes', String(workers));
  children.push(await startChild('node', cliArgs, /proxy listening/, { CUTOVER_LOG_JSON: '1' }));

  const bouncerPort = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-pgbouncer-'));
  chmodSync(dir, 0o755);
  writeFileSync(path.join(dir, 'userlist.txt'), '"postgres" "postgres"\n');
  writeFileSync(path.join(dir, 'pgbouncer.ini'), [
    '[databases]', `${db} = host=127.0.0.1 port=${pgCluster.port} dbname=${db}`,
    '[pgbouncer]', `listen_addr = 127.0.0.1`, `listen_port = ${bouncerPort}`, `unix_socket_dir = ${dir}`,
    'auth_type = scram-sha-256', `auth_file = ${path.join(dir, 'userlist.txt')}`, 'pool_mode = session',
    'max_client_conn = 200', 'default_pool_size = 100', `logfile = ${path.join(dir, 'pgbouncer.log')}`, '',
  ].join('\n'));
  const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asUser.length) execFileSync('chown', ['-R', 'postgres', dir]);
  const bouncerBin = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => { try { execFileSync('test', ['-x', p]); return true; } catch { return false; } });
  if (bouncerBin) {
    children.push(await startChild(asUser[0] ?? bouncerBin, [...asUser.slice(1), ...(asUser.length ? [bouncerBin] : []), path.join(dir, 'pgbouncer.ini')], /process up|listening on/i));
  } else {
    console.error('pgbouncer not installed (apt-get install pgbouncer): its column stays empty');
  }

  const targets: [string, number][] = [['direct', pgCluster.port], ['cutover', cutoverPort]];
  if (bouncerBin) targets.push(['pgbouncer', bouncerPort]);
  const results: Record<string, { tps: number[]; lat: number[]; failed: number }> = {};
  for (const mode of ['simple', 'extended']) {
    for (let r = 0; r < rounds; r++) {
      // rotate the order each round so drift on a shared machine hits everyone alike
      const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
      for (const [name, port] of order) {
        const res = await pgbench(bin, ['-S', '-M', mode, '-c', String(clients), '-j', '2', '-T', String(seconds), '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', db]);
        const key = `${mode}/${name}`;
        results[key] ??= { tps: [], lat: [], failed: 0 };
        results[key].tps.push(res.tps);
        results[key].lat.push(res.latencyMs);
        results[key].failed += res.failed;
      }
    }
  }
  const rows: (string | number)[][] = [['mode', 'via', 'median TPS', 'avg latency ms', 'ratio to direct', 'failed']];
  for (const mode of ['simple', 'extended']) {
    const direct = median(results[`${mode}/direct`]!.tps);
    for (const [name] of targets) {
      const r = results[`${mode}/${name}`]!;
      rows.push([mode, name, median(r.tps).toFixed(0), median(r.lat).toFixed(3), (median(r.tps) / direct).toFixed(3), r.failed]);
    }
  }
  console.log(`pgbench -S -c ${clients} -j 2 -T ${seconds}, ${rounds} interleaved rounds, median (cutover workers: ${workers}); ${os.cpus().length} cores`);
  console.log(table(rows));
} finally {
  for (const c of children) c.kill('SIGTERM');
  await pgCluster.destroy();
}
