// PostgreSQL → PostgreSQL history copy on a pgbench database: Cutover
// (schema --apply, backfill) against `pg_dump | psql` between the same two
// servers, in the same run.
//   npx tsx bench/backfill-pg.ts [--scale 50] [--rounds 1]
import { spawn } from 'node:child_process';
import path from 'node:path';
import os from 'node:os';
import { startCluster } from '../common/local-postgres.ts';
import { arg, median, pgbench, run, table } from './lib.ts';

const scale = arg('scale', 50);
const rounds = arg('rounds', 1);
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

  const psqlOn = (c: typeof target, db: string, sqlText: string) =>
    run(c.binPath('psql'), ['-X', '-q', '-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', '-d', db, '-c', sqlText], { env: { ...process.env, PGPASSWORD: 'postgres' } });
  // after each timed load, the target is settled (untimed): the autovacuum that 5 million fresh rows
  // trigger, and the checkpoint, would otherwise land on whichever run comes next
  const settle = async (db: string) => {
    await psqlOn(target, db, 'VACUUM (FREEZE, ANALYZE)');
    await psqlOn(target, 'postgres', 'CHECKPOINT');
  };
  const dumps: number[] = [];
  const schemas: number[] = [];
  const copies: number[] = [];
  let verifySeconds = 0;
  for (let round = 1; round <= rounds; round++) {
    await target.createDatabase(`dump_restore_r${round}`);
    const dump = `${source.binPath('pg_dump')} -h 127.0.0.1 -p ${source.port} -U postgres ${DB} | ${target.binPath('psql')} -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p ${target.port} -U postgres -d dump_restore_r${round}`;
    dumps.push(await timed('sh', ['-c', dump]));
    await settle(`dump_restore_r${round}`);

    await target.createDatabase(`cutover_r${round}`);
    const state = path.join(os.tmpdir(), `cutover-bench-${process.pid}-${round}.db`);
    const common = ['--source', source.url(DB), '--target', target.url(`cutover_r${round}`), '--state', state];
    schemas.push(await timed('node', ['control/cutover.mjs', 'schema', '--apply', ...common]));
    copies.push(await timed('node', ['control/cutover.mjs', 'backfill', ...common]));
    if (round === 1) verifySeconds = await timed('node', ['control/cutover.mjs', 'verify', ...common, '--report-dir', os.tmpdir()]);
    await settle(`cutover_r${round}`);
    console.log(`round ${round}: pg_dump | psql ${dumps.at(-1)!.toFixed(2)} s, cutover backfill ${copies.at(-1)!.toFixed(2)} s`);
  }
  const dumpSeconds = median(dumps);
  const schemaSeconds = median(schemas);
  const copySeconds = median(copies);

  const rate = (s: number) => Math.round(rows / s);
  console.log(`\nPostgreSQL → PostgreSQL, pgbench scale ${scale} (${rows} rows), durable servers, median of ${rounds} interleaved round(s)`);
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
