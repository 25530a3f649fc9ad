// SQLite → PostgreSQL history copy: Cutover (schema --apply, backfill, verify)
// against pgloader, same dataset, same target server, same run. Also the
// backfill's peak RSS at two dataset sizes, to show it does not grow with the
// table.
//   npx tsx bench/backfill-sqlite.ts [--users 1000000] [--sessions 500000] [--rounds 1]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startCluster } from '../common/local-postgres.ts';
import { generateDataset } from './gen-sqlite-dataset.ts';
import { arg, median, run, table } from './lib.ts';

const users = arg('users', 1_000_000);
const sessions = arg('sessions', 500_000);
const rounds = arg('rounds', 1);
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
  const dbName = (db: string, round: number) => `${path.basename(db, '.db').replace(/-/g, '_')}_r${round}`;
  const cutover = (db: string, round: number, sub: string, extra: string[] = []) =>
    timed('node', ['control/cutover.mjs', sub, '--source', `sqlite://${db}`, '--target', cluster.url(dbName(db, round)), '--state', path.join(out, `bench-state-${process.pid}-${round}.db`), '--report-dir', out, ...extra]);

  // rounds interleaved (Cutover, then pgloader, then Cutover …) so that load from elsewhere on a
  // shared machine falls on both; medians reported
  const loaderRuns: Awaited<ReturnType<typeof timed>>[] = [];
  const schemaRuns: number[] = [];
  const copyRuns: Awaited<ReturnType<typeof timed>>[] = [];
  let equal = false;
  let exact = '';
  for (let round = 1; round <= rounds; round++) {
    await cluster.createDatabase(dbName(file, round));
    await cluster.createDatabase(`pgloader_r${round}`);
    schemaRuns.push((await cutover(file, round, 'schema', ['--apply'])).seconds);
    copyRuns.push(await cutover(file, round, 'backfill'));
    if (round === 1) {
      equal = /all 2 table\(s\) equal/.test((await cutover(file, round, 'verify')).stdout);
      exact = (await run(cluster.binPath('psql'), ['-X', '-At', '-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres', '-d', dbName(file, round), '-c', 'SELECT balance = 1234567.891::float8 FROM users WHERE id = 1'], { env: { ...process.env, PGPASSWORD: 'postgres' } })).stdout.trim();
    }
    loaderRuns.push(await timed('pgloader', ['--quiet', `sqlite://${file}`, `postgresql://postgres:postgres@127.0.0.1:${cluster.port}/pgloader_r${round}`]));
    const loaded = await run(cluster.binPath('psql'), ['-X', '-At', '-h', '127.0.0.1', '-p', String(cluster.port), '-U', 'postgres', '-d', `pgloader_r${round}`, '-c', 'SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM sessions)'], { env: { ...process.env, PGPASSWORD: 'postgres' } });
    if (Number(loaded.stdout.trim()) !== rows) throw new Error(`pgloader loaded ${loaded.stdout.trim()} rows, not ${rows}`);
    console.log(`round ${round}: cutover backfill ${copyRuns.at(-1)!.seconds.toFixed(2)} s, pgloader ${loaderRuns.at(-1)!.seconds.toFixed(2)} s`);
  }
  await cluster.createDatabase(dbName(small, 0));
  await cutover(small, 0, 'schema', ['--apply']);
  const copySmall = await cutover(small, 0, 'backfill');

  const loader = median(loaderRuns.map((r) => r.seconds));
  const copy = median(copyRuns.map((r) => r.seconds));
  const schema = median(schemaRuns);
  const rate = (s: number) => Math.round(rows / s);
  console.log(`\nSQLite → PostgreSQL, ${users} users + ${sessions} sessions (${rows} rows), durable target server, median of ${rounds} interleaved round(s)`);
  console.log(table([
    ['tool', 'seconds', 'rows/s', 'ratio to pgloader', 'peak RSS MB'],
    ['pgloader', loader.toFixed(1), rate(loader), '1.00', Math.max(...loaderRuns.map((r) => r.peakMb)).toFixed(0)],
    ['cutover backfill', copy.toFixed(1), rate(copy), (loader / copy).toFixed(2), Math.max(...copyRuns.map((r) => r.peakMb)).toFixed(0)],
    ['cutover schema + backfill', (schema + copy).toFixed(1), rate(schema + copy), (loader / (schema + copy)).toFixed(2), ''],
  ]));
  console.log(`cutover verify: ${equal ? 'equal' : 'NOT EQUAL'}; REAL 1234567.891 exact on the target: ${exact === 't'}`);
  console.log(`backfill peak RSS: ${copySmall.peakMb.toFixed(0)} MB at ${Math.round(rows / 4)} rows, ${Math.max(...copyRuns.map((r) => r.peakMb)).toFixed(0)} MB at ${rows} rows`);
} finally {
  await cluster.destroy();
}
