// SQLite → PostgreSQL history copy: Cutover (schema --apply, backfill, verify)
// against pgloader, same dataset, same target server, same run. Also the
// backfill's peak RSS at two dataset sizes, to show it does not grow with the
// table.
//   npx tsx bench/backfill-sqlite.ts [--users 1000000] [--sessions 500000]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startCluster } from '../common/local-postgres.ts';
import { generateDataset } from './gen-sqlite-dataset.ts';
import { arg, run, table } from './lib.ts';

const users = arg('users', 1_000_000);
const sessions = arg('sessions', 500_000);
const out = path.resolve('bench/out');
mkdirSync(out, { recursive: true });

function dataset(u: number, s: number): string {
  const file = path.join(out, `dataset-${u}-${s}.db`);
  if (!existsSync(file)) {
    const t0 = Date.now();
    generateDataset(file, u, s);
    console.log(`generated ${file} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  return file;
}

/** Runs a command; returns wall seconds and the child's peak RSS (VmHWM, sampled until exit). */
async function timed(cmd: string, args: string[]): Promise<{ seconds: number; peakMb: number; stdout: string }> {
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let peak = 0;
  const sample = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]));
    } catch {
      /* exited */
    }
  }, 20);
  const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? -1)));
  clearInterval(sample);
  if (code !== 0 && code !== 2) throw new Error(`${cmd} ${args[0]} exited ${code}: ${stderr.slice(-800)}`);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, peakMb: peak / 1024, stdout };
}

const cluster = await startCluster({ name: 'bench-backfill', durable: true });
try {
  const file = dataset(users, sessions);
  const small = dataset(Math.round(users / 4), Math.round(sessions / 4));
  const rows = users + sessions;
  const cutover = (db: string, sub: string, extra: string[] = []) =>
    timed('node', ['control/cutover.mjs', sub, '--source', `sqlite://${db}`, '--target', cluster.url(path.basename(db, '.db').replace(/-/g, '_')), '--state', path.join(out, `bench-state-${process.pid}.db`), '--report-dir', out, ...extra]);

  for (const db of [file, small]) await cluster.createDatabase(path.basename(db, '.db').replace(/-/g, '_'));
  await cluster.createDatabase('pgloader_target');

  const schema = await cutover(file, 'schema', ['--apply']);
  const copy = await cutover(file, 'backfill');
  const verify = await cutover(file, 'verify');
  const equal = /all 2 table\(s\) equal/.test(verify.stdout);
  const exact = await run(cluster.binPath('psql'), ['-X', '-At', '-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres', '-d', path.basename(file, '.db').replace(/-/g, '_'), '-c', 'SELECT balance = 1234567.891::float8 FROM users WHERE id = 1'], { env: { ...process.env, PGPASSWORD: 'postgres' } });

  await cutover(small, 'schema', ['--apply']);
  const copySmall = await cutover(small, 'backfill');

  const loader = await timed('pgloader', ['--quiet', `sqlite://${file}`, `postgresql://postgres:postgres@127.0.0.1:${cluster.port}/pgloader_target`]);
  const loaded = await run(cluster.binPath('psql'), ['-X', '-At', '-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres', '-d', 'pgloader_target', '-c', 'SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM sessions)'], { env: { ...process.env, PGPASSWORD: 'postgres' } });

  const rate = (s: number) => Math.round(rows / s);
  console.log(`\nSQLite → PostgreSQL, ${users} users + ${sessions} sessions (${rows} rows), durable target server, one run`);
  console.log(table([
    ['tool', 'seconds', 'rows/s', 'ratio to pgloader', 'peak RSS MB'],
    ['pgloader', loader.seconds.toFixed(1), rate(loader.seconds), '1.00', loader.peakMb.toFixed(0)],
    ['cutover backfill', copy.seconds.toFixed(1), rate(copy.seconds), (loader.seconds / copy.seconds).toFixed(2), copy.peakMb.toFixed(0)],
    ['cutover schema + backfill', (schema.seconds + copy.seconds).toFixed(1), rate(schema.seconds + copy.seconds), (loader.seconds / (schema.seconds + copy.seconds)).toFixed(2), ''],
  ]));
  console.log(`pgloader loaded ${loaded.stdout.trim()} rows; cutover verify: ${equal ? 'equal' : 'NOT EQUAL'} in ${verify.seconds.toFixed(1)} s; REAL 1234567.891 exact on the target: ${exact.stdout.trim() === 't'}`);
  console.log(`backfill peak RSS: ${copySmall.peakMb.toFixed(0)} MB at ${Math.round(rows / 4)} rows, ${copy.peakMb.toFixed(0)} MB at ${rows} rows`);
} finally {
  await cluster.destroy();
}
