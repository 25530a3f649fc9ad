// Write and read throughput with an SQLite source, in one run:
//   direct better-sqlite3     the same statements in one process, no proxy (the physical limit)
//   direct + capture          the same, with capture triggers and the per-transaction drain (no apply)
//   proxy, SQLite, no mirror  through Cutover serving the file, capture off
//   proxy, SQLite, mirroring  through Cutover, every write applied to PostgreSQL before the SQLite COMMIT
//   … mirror sync_commit off  the same, the mirror's commits not waiting for its WAL flush
//   direct PostgreSQL         pgbench on a PostgreSQL source
//   proxy, PostgreSQL, mirror the PostgreSQL-source proxy mirroring to the same target server
// write: one autocommit UPDATE of a random account; read: one SELECT by key.
//   npx tsx bench/sqlite-proxy.ts [--seconds 10] [--clients 16] [--rows 100000]
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { freePort, startCluster } from '../common/local-postgres.ts';
import { installSqliteCapture } from '../proxy/capture/sqlite-capture.ts';
import { arg, pgbench, run, startChild, table } from './lib.ts';

const seconds = arg('seconds', 10);
const clients = arg('clients', 16);
const rows = arg('rows', 100_000);
const DB = 'bench';

const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-bench-sqlite-'));
const file = path.join(dir, 'app.db');
const scripts = {
  write: path.join(dir, 'write.sql'),
  read: path.join(dir, 'read.sql'),
};
writeFileSync(scripts.write, `\\set id random(1, ${rows})\n\\set d random(-5000, 5000)\nUPDATE accounts SET balance = balance + :d WHERE id = :id;\n`);
writeFileSync(scripts.read, `\\set id random(1, ${rows})\nSELECT balance, filler FROM accounts WHERE id = :id;\n`);

const [source, target] = await Promise.all([startCluster({ name: 'bench-sq-src', durable: true }), startCluster({ name: 'bench-sq-dst', durable: true })]);
const children: { kill(sig?: NodeJS.Signals): boolean }[] = [];
const psql = (url: string, text: string) => run(path.join(source.binDir, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', text]);
const PG_SCHEMA = `CREATE TABLE accounts (id bigint PRIMARY KEY, balance bigint NOT NULL, filler text);
  INSERT INTO accounts SELECT g, 0, repeat('x', 80) FROM generate_series(1, ${rows}) g;`;

async function proxy(src: string, extra: string[], env: Record<string, string> = {}): Promise<number> {
  const port = await freePort();
  children.push(await startChild('node', ['control/cutover.mjs', 'proxy', '--source', src, '--listen', `127.0.0.1:${port}`, '--control', `127.0.0.1:${await freePort()}`, '--state', path.join(dir, `state-${port}.db`), ...extra], /proxy listening/, { CUTOVER_LOG_JSON: '1', ...env }));
  return port;
}
function stopProxies(): void {
  for (const c of children.splice(0)) c.kill('SIGTERM');
}
const bench = (port: number, kind: 'write' | 'read') =>
  pgbench(source.binDir, ['-n', '-f', scripts[kind], '-c', String(clients), '-j', '2', '-T', String(seconds), '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', DB]);

/** The same statements in this process, one connection, autocommit: what SQLite itself can do. */
function direct(kind: 'write' | 'read', withCapture: boolean): { tps: number; latencyMs: number; failed: number } {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.defaultSafeIntegers(true);
  const upd = db.prepare('UPDATE accounts SET balance = balance + ? WHERE id = ?');
  const sel = db.prepare('SELECT balance, filler FROM accounts WHERE id = ?');
  const drain = withCapture ? db.prepare('DELETE FROM _cutover_changes WHERE seq > ? RETURNING seq, tbl, op, pk, row') : null;
  const floor = withCapture ? db.prepare('SELECT coalesce(max(seq), 0) FROM _cutover_changes').pluck() : null;
  const writeTxn = db.transaction((d: number, id: number) => {
    const f = floor?.get();
    upd.run(d, id);
    drain?.all(f);
  });
  const end = Date.now() + seconds * 1000;
  let n = 0;
  const started = process.hrtime.bigint();
  while (Date.now() < end) {
    for (let i = 0; i < 100; i++, n++) {
      const id = 1 + Math.floor(Math.random() * rows);
      if (kind === 'read') sel.get(id);
      else if (withCapture) writeTxn.immediate(Math.floor(Math.random() * 10001) - 5000, id);
      else upd.run(Math.floor(Math.random() * 10001) - 5000, id);
    }
  }
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  db.close();
  return { tps: n / secs, latencyMs: (secs * 1000) / n, failed: 0 };
}

try {
  const sq = new Database(file);
  sq.pragma('journal_mode = WAL');
  sq.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL, filler TEXT)');
  const ins = sq.prepare("INSERT INTO accounts VALUES (?, 0, ?)");
  sq.transaction(() => {
    for (let i = 1; i <= rows; i++) ins.run(i, 'x'.repeat(80));
  })();
  const sqTarget = await target.createDatabase('sq');
  await psql(sqTarget, PG_SCHEMA);
  const pgSource = await source.createDatabase(DB);
  await psql(pgSource, PG_SCHEMA);
  const pgTarget = await target.createDatabase(DB);
  await psql(pgTarget, PG_SCHEMA);

  const out: (string | number)[][] = [['workload', 'variant', 'TPS', 'avg latency ms', 'vs direct SQLite', 'failed']];
  const base: Record<string, number> = {};
  const record = (kind: string, variant: string, r: { tps: number; latencyMs: number; failed: number }) => {
    if (variant === 'direct better-sqlite3') base[kind] = r.tps;
    out.push([kind, variant, r.tps.toFixed(0), r.latencyMs.toFixed(3), (r.tps / base[kind]!).toFixed(3), r.failed]);
    return r.tps;
  };
  const figures: Record<string, number> = {};
  for (const kind of ['write', 'read'] as const) {
    figures[`${kind}/direct`] = record(kind, 'direct better-sqlite3', direct(kind, false));
    let port = await proxy(`sqlite://${file}`, ['--auth', 'trust']);
    figures[`${kind}/sqlite-plain`] = record(kind, 'proxy, SQLite source, no mirror', await bench(port, kind));
    stopProxies();
    sq.pragma('wal_checkpoint(TRUNCATE)');
    await installSqliteCapture(sq);
    if (kind === 'write') figures[`${kind}/direct-capture`] = record(kind, 'direct + capture triggers + drain', direct(kind, true));
    port = await proxy(`sqlite://${file}`, ['--auth', 'trust', '--target', sqTarget, '--reads', '0']);
    figures[`${kind}/sqlite-mirror`] = record(kind, 'proxy, SQLite source, mirroring', await bench(port, kind));
    stopProxies();
    if (kind === 'write') {
      // the mirror's commit no longer waits for its WAL flush: what the serial apply costs without it
      port = await proxy(`sqlite://${file}`, ['--auth', 'trust', '--target', sqTarget, '--reads', '0'], { CUTOVER_MIRROR_SYNCHRONOUS_COMMIT: 'off' });
      figures[`${kind}/sqlite-mirror-async`] = record(kind, 'proxy, SQLite source, mirroring, mirror sync_commit off', await bench(port, kind));
      stopProxies();
    }
    if (kind === 'read') {
      port = await proxy(`sqlite://${file}`, ['--auth', 'trust', '--target', sqTarget, '--reads', '50']);
      figures[`${kind}/sqlite-reads50`] = record(kind, 'proxy, SQLite source, mirroring, reads 50 % to PG', await bench(port, kind));
      stopProxies();
    }
    sq.exec('DROP TRIGGER IF EXISTS "_cutover_capture_accounts_ins"; DROP TRIGGER IF EXISTS "_cutover_capture_accounts_upd"; DROP TRIGGER IF EXISTS "_cutover_capture_accounts_del"; DROP TABLE IF EXISTS _cutover_changes');

    figures[`${kind}/pg-direct`] = record(kind, 'direct PostgreSQL (pgbench)', await bench(source.port, kind));
    await run('node', ['control/cutover.mjs', 'capture', 'install', '--skip-backup', '--source', pgSource]);
    port = await proxy(pgSource, ['--target', pgTarget]);
    figures[`${kind}/pg-mirror`] = record(kind, 'proxy, PostgreSQL source, mirroring', await bench(port, kind));
    stopProxies();
    await run('node', ['control/cutover.mjs', 'capture', 'remove', '--source', pgSource]);
  }
  sq.close();

  console.log(`${clients} clients (pgbench -j 2, -T ${seconds}) through the proxies; direct SQLite is one connection in one process; ${rows} rows; durable PostgreSQL servers; SQLite WAL, synchronous FULL`);
  console.log(table(out));
  const r = (a: string, b: string) => (figures[a]! / figures[b]!).toFixed(3);
  console.log(`\nratios: write  SQLite proxy mirroring / direct better-sqlite3 ${r('write/sqlite-mirror', 'write/direct')}, / SQLite proxy without mirror ${r('write/sqlite-mirror', 'write/sqlite-plain')}, / PostgreSQL-source proxy mirroring ${r('write/sqlite-mirror', 'write/pg-mirror')}; mirror sync_commit off / on ${r('write/sqlite-mirror-async', 'write/sqlite-mirror')}`);
  console.log(`        read   SQLite proxy mirroring / direct better-sqlite3 ${r('read/sqlite-mirror', 'read/direct')}, / PostgreSQL-source proxy mirroring ${r('read/sqlite-mirror', 'read/pg-mirror')}, reads 50 % to PG / reads 0 % ${r('read/sqlite-reads50', 'read/sqlite-mirror')}`);
} finally {
  stopProxies();
  await Promise.all([source.destroy(), target.destroy()]);
}
