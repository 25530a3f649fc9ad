// What the capture triggers cost one statement that changes many rows: an
// UPDATE of N rows (and one that changes their keys) timed on one server
// without capture and with it, in the same run; prints the ratio. The UPDATE
// trigger's anti-join (old keys no new row has) was quadratic in N before it
// compared keys with `=` (20 000 rows: 4.7 s against 0.3 s).
//   npx tsx bench/capture-bulk-update.ts [--rows 20000] [--rounds 3]
import { startCluster } from '../common/local-postgres.ts';
import { arg, median, run, table } from './lib.ts';
import pg from 'pg';

const rows = arg('rows', 20_000);
const rounds = arg('rounds', 3);
const DB = 'bench';
const c = await startCluster({ name: 'capture-bulk', durable: true });
try {
  await c.createDatabase(DB);
  const db = new pg.Client({ connectionString: c.url(DB) });
  db.on('error', () => undefined);
  await db.connect();
  await db.query(`CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL, note text);
    INSERT INTO accounts SELECT g, 0, 'x' FROM generate_series(1, ${rows}) g`);
  await db.query('VACUUM ANALYZE accounts');
  const statements = {
    'UPDATE': `UPDATE accounts SET balance = balance + 1`,
    'UPDATE of the key': `UPDATE accounts SET id = id + ${rows}`,
  };
  const timed = async (sqlText: string) => {
    await db.query('BEGIN');
    const t0 = process.hrtime.bigint();
    await db.query(sqlText);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    await db.query('ROLLBACK');
    return ms;
  };
  const ms: Record<string, number[]> = {};
  for (const captured of [false, true]) {
    if (captured) await run('node', ['control/cutover.mjs', 'capture', 'install', '--skip-backup', '--source', c.url(DB)]);
    for (let r = 0; r < rounds; r++) {
      for (const [name, text] of Object.entries(statements)) (ms[`${name}/${captured}`] ??= []).push(await timed(text));
    }
  }
  await db.end();
  const out: (string | number)[][] = [['statement', 'rows', 'no capture ms', 'captured ms', 'ratio']];
  for (const name of Object.keys(statements)) {
    const plain = median(ms[`${name}/false`]!);
    const captured = median(ms[`${name}/true`]!);
    out.push([name, rows, plain.toFixed(0), captured.toFixed(0), (captured / plain).toFixed(2)]);
  }
  console.log(`one statement changing ${rows} rows, medians of ${rounds}; ratio = captured / no capture`);
  console.log(table(out));
} finally {
  await c.destroy();
}
