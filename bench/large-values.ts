// One large value written through the mirroring proxy against the same write
// made directly, in one run on the same two servers:
//   direct            INSERT on the source (capture on: its trigger included) and COMMIT
//   mirror apply      the captured row's JSON applied on the target as the mirror applies it
//   proxy             the same INSERT through the proxy (drain, mirror apply, COMMIT)
//   drained           the same INSERT made on the source beside the proxy, left
//                     to the proxy's background drainer: from its COMMIT until
//                     the row is on the target
// for a bytea of random bytes and a text of non-ASCII characters, alone and
// N at once. Prints times, the proxy's time as a ratio to direct + mirror
// apply, and the proxy's peak RSS above its idle RSS (VmHWM, reset before
// each step) as a multiple of the value's size.
//   npx tsx bench/large-values.ts [--mb 50] [--concurrency 8] [--rounds 3] [--only session|drained]
import { freePort, startCluster } from '../common/local-postgres.ts';
import { arg, median, run, startChild, table } from './lib.ts';
import pg from 'pg';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const mb = arg('mb', 50);
const concurrency = arg('concurrency', 8);
const rounds = arg('rounds', 3);
const DB = 'bench';
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;

const [source, target] = await Promise.all([startCluster({ name: 'lv-src', durable: true }), startCluster({ name: 'lv-dst', durable: true })]);
/** The proxy under test (freshProxy replaces it). */
const proxy: { child: ChildProcess | null } = { child: null };

const status = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${proxy.child!.pid}/status`, 'utf8'))![1]) / 1024;
/** The proxy's peak RSS starts again from its current RSS (Linux: clear_refs 5). */
const resetPeak = () => writeFileSync(`/proc/${proxy.child!.pid}/clear_refs`, '5');
/** The proxy's CPU time so far, in ms (utime + stime). */
const cpuMs = () => {
  const f = readFileSync(`/proc/${proxy.child!.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
};

async function client(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

let nextId = 1;
const kinds = {
  'bytea, random bytes': { column: 'b', value: () => randomBytes(mb << 20), json: (v: Buffer) => `"\\\\x${v.toString('hex')}"` },
  // 2 bytes a character in UTF-8: mb MB of text
  'text, non-ASCII': { column: 't', value: () => 'ü€'.repeat(Math.floor((mb << 20) / 5)) + 'é'.repeat(((mb << 20) % 5) >> 1), json: (v: string) => JSON.stringify(v) },
} as const;

/** Direct on the source: INSERT and COMMIT timed; the change rows the trigger wrote are removed in between (no drainer work left behind). */
async function direct(c: pg.Client, column: string, value: unknown): Promise<number> {
  await c.query('BEGIN');
  let t0 = performance.now();
  await c.query(`INSERT INTO blobs (id, ${column}) VALUES ($1, $2)`, [nextId++, value]);
  let ms = performance.now() - t0;
  await c.query('DELETE FROM cutover.changes WHERE txid = txid_current()');
  t0 = performance.now();
  await c.query('COMMIT');
  return ms + performance.now() - t0;
}

try {
  for (const c of [source, target]) {
    await c.createDatabase(DB);
    const db = await client(c.url(DB));
    await db.query('CREATE TABLE blobs (id int PRIMARY KEY, b bytea, t text)');
    await db.end();
  }
  await run('node', ['control/cutover.mjs', 'capture', 'install', '--skip-backup', '--source', source.url(DB)]);
  let viaProxy = '';
  /** A proxy of its own for each step: memory a step freed but the proxy kept would hide the next step's peak. */
  const freshProxy = async () => {
    proxy.child?.kill('SIGTERM');
    const port = await freePort();
    proxy.child = await startChild('node', ['control/cutover.mjs', 'proxy', '--source', source.url(DB), '--target', target.url(DB), '--listen', `127.0.0.1:${port}`, '--control', `127.0.0.1:${await freePort()}`, '--state', path.join(os.tmpdir(), `cutover-bench-lv-${process.pid}-${port}.db`)], /proxy listening/, { CUTOVER_LOG_JSON: '1' });
    await new Promise((r) => setTimeout(r, 1000));
    viaProxy = source.url(DB).replace(`:${source.port}/`, `:${port}/`);
  };
  const src = await client(source.url(DB));
  const tgt = await client(target.url(DB));
  const rows: (string | number)[][] = [['value', 'step', 'ms', 'ratio', 'proxy peak MB', 'peak / value', 'proxy CPU ms']];

  for (const [kind, k] of only === 'drained' ? [] : Object.entries(kinds)) {
    const value = k.value() as never;
    const json = `[{"id":0,"${k.column}":${k.json(value)}}]`;
    const times = { direct: [] as number[], apply: [] as number[], proxy: [] as number[], peak: [] as number[], cpu: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      times.direct.push(await direct(src, k.column, value));
      // the mirror's statement (apply.ts upsertSql) with the row as capture writes it
      let t0 = performance.now();
      await tgt.query(`INSERT INTO blobs SELECT * FROM json_populate_recordset(NULL::blobs, $1::json)`, [json]);
      times.apply.push(performance.now() - t0);
      await tgt.query('DELETE FROM blobs WHERE id = 0');
      await freshProxy();
      const c = await client(viaProxy);
      const idle = status('VmRSS');
      resetPeak();
      const cpu0 = cpuMs();
      t0 = performance.now();
      await c.query(`INSERT INTO blobs (id, ${k.column}) VALUES ($1, $2)`, [nextId++, value]);
      times.proxy.push(performance.now() - t0);
      times.cpu.push(cpuMs() - cpu0);
      times.peak.push(status('VmHWM') - idle);
      await c.end();
    }
    const d = median(times.direct);
    const a = median(times.apply);
    const peak = median(times.peak);
    rows.push([kind, 'direct', d.toFixed(0), '', '', '', '']);
    rows.push([kind, 'mirror apply', a.toFixed(0), '', '', '', '']);
    rows.push([kind, 'proxy', median(times.proxy).toFixed(0), `${(median(times.proxy) / (d + a)).toFixed(2)} of direct + apply`, peak.toFixed(0), (peak / mb).toFixed(1), median(times.cpu).toFixed(0)]);

    // N sessions at once, each its own value's row
    let t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      const c = await client(source.url(DB));
      await direct(c, k.column, value);
      await c.end();
    }));
    const dn = performance.now() - t0;
    await freshProxy();
    const idle = status('VmRSS');
    resetPeak();
    const cpu0 = cpuMs();
    t0 = performance.now();
    const outcomes = await Promise.allSettled(Array.from({ length: concurrency }, async () => {
      const c = await client(viaProxy);
      try {
        await c.query(`INSERT INTO blobs (id, ${k.column}) VALUES ($1, $2)`, [nextId++, value]);
      } finally {
        await c.end();
      }
    }));
    const pn = performance.now() - t0;
    const failed = outcomes.filter((o) => o.status === 'rejected').length;
    const peakN = status('VmHWM') - idle;
    rows.push([kind, `direct x${concurrency}`, dn.toFixed(0), '', '', '', '']);
    rows.push([kind, `proxy x${concurrency}${failed ? ` (${failed} failed)` : ''}`, pn.toFixed(0), `${(pn / dn).toFixed(2)} of direct`, peakN.toFixed(0), (peakN / mb).toFixed(1), (cpuMs() - cpu0).toFixed(0)]);
  }
  if (only !== 'session') {
    /** Direct INSERTs on the source, N sessions at once, their change rows left to the proxy's drainer: ms from their COMMIT until every row is on the target. */
    const drained = async (k: (typeof kinds)[keyof typeof kinds], value: unknown, n: number) => {
      await freshProxy();
      const idle = status('VmRSS');
      resetPeak();
      const cpu0 = cpuMs();
      const ids = Array.from({ length: n }, () => nextId++);
      const writers = await Promise.all(ids.map(() => client(source.url(DB))));
      await Promise.all(writers.map((c) => c.query('BEGIN')));
      await Promise.all(writers.map((c, i) => c.query(`INSERT INTO blobs (id, ${k.column}) VALUES ($1, $2)`, [ids[i], value])));
      const t0 = performance.now();
      await Promise.all(writers.map((c) => c.query('COMMIT')));
      for (;;) {
        const r = await tgt.query<{ n: number }>('SELECT count(*)::int AS n FROM blobs WHERE id = ANY ($1::int[])', [ids]);
        if (r.rows[0]!.n === n) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const ms = performance.now() - t0;
      const peak = status('VmHWM') - idle;
      await Promise.all(writers.map((c) => c.end()));
      return { ms, peak, cpu: cpuMs() - cpu0 };
    };
    for (const [kind, k] of Object.entries(kinds)) {
      const value = k.value() as never;
      const one = { ms: [] as number[], peak: [] as number[], cpu: [] as number[] };
      for (let r = 0; r < rounds; r++) {
        const d = await drained(k, value, 1);
        one.ms.push(d.ms);
        one.peak.push(d.peak);
        one.cpu.push(d.cpu);
      }
      rows.push([kind, 'drained', median(one.ms).toFixed(0), '', median(one.peak).toFixed(0), (median(one.peak) / mb).toFixed(1), median(one.cpu).toFixed(0)]);
      const d = await drained(k, value, concurrency);
      rows.push([kind, `drained x${concurrency}`, d.ms.toFixed(0), '', d.peak.toFixed(0), (d.peak / mb).toFixed(1), d.cpu.toFixed(0)]);
    }
  }
  // every row the proxy wrote is on the target, byte for byte
  const digest = `SELECT id, md5(b) AS b, md5(t) AS t FROM blobs ORDER BY id`;
  const [onSource, onTarget] = [(await src.query(digest)).rows, (await tgt.query(digest)).rows];
  const mirrored = onSource.filter((r) => onTarget.some((t) => t.id === r.id));
  const same = mirrored.every((r) => JSON.stringify(r) === JSON.stringify(onTarget.find((t) => t.id === r.id)));
  await Promise.all([src.end(), tgt.end()]);
  console.log(`${mb} MB a value, ${rounds} rounds (median), ${concurrency} at once; durable servers; peak = proxy VmHWM above its idle RSS`);
  console.log(table(rows));
  console.log(`rows through the proxy on the target: ${mirrored.length}, ${same ? 'all identical to the source' : 'SOME DIFFER FROM THE SOURCE'}`);
} finally {
  proxy.child?.kill('SIGTERM');
  await Promise.all([source.destroy(), target.destroy()]);
}
