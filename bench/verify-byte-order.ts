// What `cutover verify` costs when the two databases sort a text key
// differently (an ICU collation on the legacy side, "C" on the new one), so
// that the key is compared in byte order, against the same table where both
// sort it alike, in the same run. Also times a verify that has differences to
// find (rows deleted, changed and added on the target).
//   npx tsx bench/verify-byte-order.ts [--rows 200000]
import { spawn } from 'node:child_process';
import os from 'node:os';
import pg from 'pg';
import { startCluster } from '../common/local-postgres.ts';
import { arg, table } from './lib.ts';

const rows = arg('rows', 200_000);

async function verify(args: string[]): Promise<{ seconds: number; code: number; out: string }> {
  const t0 = process.hrtime.bigint();
  const child = spawn('node', ['control/cutover.mjs', 'verify', ...args, '--report-dir', os.tmpdir()], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const code = await new Promise<number>((r) => child.on('exit', (c) => r(c ?? -1)));
  if (code !== 0 && code !== 1 && code !== 2) throw new Error(`verify exited ${code}: ${out.slice(-800)}`);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, code, out };
}

async function exec(url: string, text: string): Promise<void> {
  const c = new pg.Client(url);
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

const [source, target] = await Promise.all([startCluster({ name: 'bench-vbo-src', durable: true }), startCluster({ name: 'bench-vbo-dst', durable: true })]);
try {
  const fill = `INSERT INTO t SELECT CASE WHEN g % 2 = 0 THEN upper(md5(g::text)) ELSE md5(g::text) END, g, repeat('x', 40) FROM generate_series(1, ${rows}) g`;
  // same: both sort the key alike (libc default); byte: ICU on the source, "C" on the target
  for (const db of ['same', 'byte']) {
    await Promise.all([source.createDatabase(db), target.createDatabase(db)]);
    const key = db === 'byte' ? 'text COLLATE "en-x-icu"' : 'text';
    await exec(source.url(db), `CREATE TABLE t (id ${key} PRIMARY KEY, v int, pad text); ${fill}; ANALYZE t`);
    await exec(target.url(db), `CREATE TABLE t (id ${db === 'byte' ? 'text COLLATE "C"' : 'text'} PRIMARY KEY, v int, pad text); ${fill}; ANALYZE t`);
  }
  const args = (db: string) => ['--source', source.url(db), '--target', target.url(db)];
  const same = await verify(args('same'));
  const byte = await verify(args('byte'));
  if (!/byte order/.test(byte.out)) throw new Error(`the byte-order variant was not compared in byte order: ${byte.out.slice(-400)}`);
  // differences to find: every 1000th row gone, every 1000th (offset 500) changed, 100 added
  const differ = `DELETE FROM t WHERE v % 1000 = 0; UPDATE t SET v = -v WHERE v % 1000 = 500; INSERT INTO t SELECT 'zz' || g, g, '' FROM generate_series(1, 100) g`;
  await Promise.all([exec(target.url('same'), differ), exec(target.url('byte'), differ)]);
  const sameDiff = await verify(args('same'));
  const byteDiff = await verify(args('byte'));
  console.log(`cutover verify of one table of ${rows} rows with a text key, durable servers`);
  console.log(table([
    ['variant', 'seconds', 'exit', 'ratio to the same order'],
    ['equal, same order on both', same.seconds.toFixed(1), same.code, '1.00'],
    ['equal, byte order (ICU source, C target)', byte.seconds.toFixed(1), byte.code, (byte.seconds / same.seconds).toFixed(2)],
    [`${Math.floor(rows / 500) + 100} differences, same order`, sameDiff.seconds.toFixed(1), sameDiff.code, '1.00'],
    [`${Math.floor(rows / 500) + 100} differences, byte order`, byteDiff.seconds.toFixed(1), byteDiff.code, (byteDiff.seconds / sameDiff.seconds).toFixed(2)],
  ]));
} finally {
  await Promise.all([source.destroy(), target.destroy()]);
}
