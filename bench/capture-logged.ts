// What a logged change table costs the source: pgbench -N with the capture
// triggers and a drain (DELETE … RETURNING of the transaction's change rows)
// per transaction, run directly on one durable server, the change table
// switched UNLOGGED / LOGGED between interleaved rounds; prints the ratio.
//   npx tsx bench/capture-logged.ts [--rounds 3] [--seconds 10]
import { startCluster } from '../common/local-postgres.ts';
import { arg, median, pgbench, run } from './lib.ts';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
const DB = 'bench';
const rounds = arg('rounds', 3);
const seconds = arg('seconds', 10);
const c = await startCluster({ name: 'logged', durable: true });
const psql = (sql: string) => run(path.join(c.binDir, 'psql'), ['-X', '-q', '-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', '-d', DB, '-c', sql], { env: { ...process.env, PGPASSWORD: 'postgres' } });
try {
  await c.createDatabase(DB);
  await pgbench(c.binDir, ['-i', '-s', '10', '-q', '-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', DB]);
  await psql('ALTER TABLE pgbench_history ADD COLUMN hid bigserial PRIMARY KEY');
  await run('node', ['control/cutover.mjs', 'capture', 'install', '--skip-backup', '--source', c.url(DB)]);
  const script = path.join(os.tmpdir(), 'n-drain.sql');
  writeFileSync(script, `\\set aid random(1, 100000 * :scale)
\\set bid random(1, 1 * :scale)
\\set tid random(1, 10 * :scale)
\\set delta random(-5000, 5000)
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
DELETE FROM cutover.changes WHERE txid = txid_current() RETURNING seq, tbl, op, pk::text, row::text;
END;
`);
  const tps: Record<string, number[]> = { unlogged: [], logged: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of ['unlogged', 'logged']) {
      await psql(`ALTER TABLE cutover.changes SET ${mode.toUpperCase()}`);
      await psql('CHECKPOINT');
      tps[mode]!.push((await pgbench(c.binDir, ['-n', '-f', script, '-c', '16', '-j', '2', '-T', String(seconds), '-M', 'prepared', '-h', '127.0.0.1', '-p', String(c.port), '-U', 'postgres', DB])).tps);
    }
  }
  console.log(`TPS unlogged ${tps.unlogged!.map((x) => x.toFixed(0)).join(' ')}; logged ${tps.logged!.map((x) => x.toFixed(0)).join(' ')}`);
  console.log(`median logged / unlogged: ${(median(tps.logged!) / median(tps.unlogged!)).toFixed(3)}`);
} finally {
  await c.destroy();
}
