// PostgreSQL → PostgreSQL history copy on a pgbench database: Cutover
// (schema --apply, backfill) against `pg_dump | psql` between the same two
// servers, in the same run.
//   npx tsx bench/backfill-pg.ts [--scale 50]
import { spawn } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import { startCluster } from '../common/local-postgres.ts';
import { arg, pgbench, run, table } from './lib.ts';

const scale = arg('scale', 50);
const DB = 'bench';

async function timed(cmd: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PGPASSWORD: 'postgres', ...env } });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? -1)));
  if (code !== 0 && code !== 2) throw new Error(`${cmd} exited ${code}: ${err.slice(-800)}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const [source, target] = await Promise.all([startCluster({ name: 'bench-bf-src', durable: true }), startCluster({ name: 'bench-bf-dst', durable: true })]);
try {
  await source.createDatabase(DB);
  await pgbench(source.binDir, ['-i', '-s', String(scale), '-q', '-h', '127.0.0.1', '-p', String(source.port), '-U', 'postgres', DB]);
  // every copied table needs a key (pgbench_history has none and is empty after -i)
  await run(source.binPath('psql'), ['-X', '-q', '-h', '127.0.0.1', '-p', String(source.port), '-U', 'postgres', '-d', DB, '-c', 'ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY'], { env: { ...process.env, PGPASSWORD: 'postgres' } });
  const rows = Number((await run(source.binPath('psql'), ['-X', '-At', '-h', '127.0.0.1', '-p', String(source.port), '-U', 'postgres', '-d', DB, '-c', 'SELECT (SELECT count(*) FROM pgbench_accounts) + (SELECT count(*) FROM pgbench_branches) + (SELECT count(*) FROM pgbench_tellers)'], { env: { ...process.env, PGPASSWORD: 'postgres' } })).stdout.trim());

  await target.createDatabase('dump_restore');
  const dump = `${source.binPath('pg_dump')} -h 127.0.0.1 -p ${source.port} -U postgres ${DB} | ${target.binPath('psql')} -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p ${target.port} -U postgres -d dump_restore`;
  const dumpSeconds = await timed('sh', ['-c', dump]);

  await target.createDatabase('cutover');
  const state = path.join(os.tmpdir(), `cutover-bench-${process.pid}.db`);
  const common = ['--source', source.url(DB), '--target', target.url('cutover'), '--state', state];
  const schemaSeconds = await timed('node', ['control/cutover.mjs', 'schema', '--apply', ...common]);
  const copySeconds = await timed('node', ['control/cutover.mjs', 'backfill', ...common]);
  const verifySeconds = await timed('node', ['control/cutover.mjs', 'verify', ...common, '--report-dir', os.tmpdir()]);

  const rate = (s: number) => Math.round(rows / s);
  console.log(`\nPostgreSQL → PostgreSQL, pgbench scale ${scale} (${rows} rows), durable servers, one run`);
  console.log(table([
    ['tool', 'seconds', 'rows/s', 'ratio to pg_dump | psql'],
    ['pg_dump | psql', dumpSeconds.toFixed(1), rate(dumpSeconds), '1.00'],
    ['cutover backfill', copySeconds.toFixed(1), rate(copySeconds), (dumpSeconds / copySeconds).toFixed(2)],
    ['cutover schema + backfill', (schemaSeconds + copySeconds).toFixed(1), rate(schemaSeconds + copySeconds), (dumpSeconds / (schemaSeconds + copySeconds)).toFixed(2)],
  ]));
  console.log(`cutover verify: equal in ${verifySeconds.toFixed(1)} s`);
} finally {
  await Promise.all([source.destroy(), target.destroy()]);
}
