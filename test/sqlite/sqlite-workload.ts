// The dual-write tests' randomized concurrent workload (test/mirror/workload.ts)
// in the dialect an SQLite source supports, on a legacy SQLite schema: rowid
// keys, REAL and NUMERIC, TIMESTAMP defaults, BLOBs, JSONB text, a cascading
// foreign key; inserts, updates, cascading deletes, hot counters,
// multi-statement transactions, rollbacks, savepoints, multi-statement simple
// queries and reads; node-postgres (simple and extended) and postgres.js.
import pg from 'pg';
import postgres from 'postgres';
import { rng, type WorkloadResult } from '../mirror/workload.ts';

export const SQLITE_WORKLOAD_SCHEMA = `
  CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    balance REAL NOT NULL DEFAULT 0,
    score NUMERIC(18, 6) NOT NULL DEFAULT 0,
    active BOOLEAN NOT NULL DEFAULT 1,
    created TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    tag TEXT,
    avatar BLOB
  );
  CREATE TABLE notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    meta JSONB,
    updated TIMESTAMP DEFAULT CURRENT_TIMESTAMP
  );
  CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL DEFAULT 0);
`;
/** Run through the proxy once the mirror is up, so the target gets them too. */
export const SQLITE_WORKLOAD_SEED = `INSERT INTO counters (name) VALUES ('c1'), ('c2'), ('c3'), ('c4'), ('c5'), ('c6'), ('c7'), ('c8')`;

/** Errors the workload provokes on purpose (duplicate emails, notes for deleted accounts). */
const EXPECTED = new Set(['23505', '23503']);

export async function runSqliteWorkload(url: string, opts: { seed: number; clients: number; ops: number }): Promise<WorkloadResult & { committed: number }> {
  const perClient = Math.ceil(opts.ops / opts.clients);
  const errors: WorkloadResult['errors'] = [];
  let done = 0;
  let committed = 0;
  const workers = Array.from({ length: opts.clients }, async (_, w) => {
    const rand = rng(opts.seed * 1000 + w);
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
    const usePgJs = w % 4 === 3;
    const pc = usePgJs ? null : new pg.Client({ connectionString: url });
    const pj = usePgJs ? postgres(url, { max: 1, prepare: true, onnotice: () => undefined }) : null;
    await pc?.connect();
    const q = async (text: string, params?: unknown[]) => {
      if (pj) return params ? pj.unsafe(text, params as never[]) : pj.unsafe(text);
      return pc!.query(text, params);
    };
    const someId = () => 1 + Math.floor(rand() * (50 + done / 4));
    try {
      for (let i = 0; i < perClient; i++) {
        const r = rand();
        try {
          if (r < 0.25) {
            await q('INSERT INTO accounts (email, balance, tag, avatar) VALUES ($1, $2, $3, $4)', [`s${opts.seed}w${w}i${i}@x`, rand() * 1000, pick(['a', 'b', null]), rand() < 0.3 ? Buffer.from([w, i & 255, 0]) : null]);
          } else if (r < 0.35) {
            await q(`INSERT INTO notes (account_id, body, meta) SELECT id, 'n${w}-${i}', '{"k": ${i}}' FROM accounts WHERE id = ${someId()}`);
          } else if (r < 0.5) {
            await q('UPDATE accounts SET balance = balance * 1.000001 + $1, score = score + 0.5, active = $2 WHERE id = $3', [rand(), rand() < 0.5, someId()]);
          } else if (r < 0.55) {
            await q(`DELETE FROM accounts WHERE id = ${someId()}`);
          } else if (r < 0.65) {
            await q(`UPDATE counters SET value = value + 1 WHERE name = 'c${1 + Math.floor(rand() * 8)}'`);
          } else if (r < 0.75) {
            if (pj) {
              await pj.begin(async (tx) => {
                await tx.unsafe('INSERT INTO accounts (email) VALUES ($1)', [`tx${opts.seed}w${w}i${i}@x`]);
                await tx.unsafe(`UPDATE notes SET body = body || '+' WHERE account_id = ${someId()}`);
              });
            } else {
              await q('BEGIN');
              try {
                await q('INSERT INTO accounts (email) VALUES ($1)', [`tx${opts.seed}w${w}i${i}@x`]);
                await q(`UPDATE notes SET body = body || '+', updated = now() WHERE account_id = ${someId()}`);
                await q('COMMIT');
              } catch (e) {
                await q('ROLLBACK');
                throw e;
              }
            }
          } else if (r < 0.8) {
            // rolled back: must leave no trace anywhere
            if (pc) {
              await q('BEGIN');
              await q(`INSERT INTO accounts (email) VALUES ('rb${opts.seed}w${w}i${i}@x')`);
              await q(`DELETE FROM notes WHERE account_id = ${someId()}`);
              await q('ROLLBACK');
            }
          } else if (r < 0.85) {
            if (pc) {
              await q('BEGIN');
              try {
                await q(`UPDATE accounts SET score = score + 1 WHERE id = ${someId()}`);
                await q('SAVEPOINT sp');
                await q(`DELETE FROM accounts WHERE id = ${someId()}`);
                await q('ROLLBACK TO SAVEPOINT sp');
                await q(`INSERT INTO notes (account_id, body) SELECT id, 'sp' FROM accounts WHERE id = ${someId()}`);
                await q('COMMIT');
              } catch (e) {
                await q('ROLLBACK');
                throw e;
              }
            }
          } else if (r < 0.88) {
            // one simple Query, several statements: one implicit transaction
            await q(`UPDATE counters SET value = value + 10 WHERE name = 'c1'; INSERT INTO accounts (email) VALUES ('m${opts.seed}w${w}i${i}@x')`);
          } else {
            await q('SELECT id, email, balance FROM accounts WHERE id = $1', [someId()]);
          }
          committed++;
        } catch (e) {
          const err = e as { code?: string; message: string };
          if (!EXPECTED.has(err.code ?? '')) errors.push({ code: err.code, message: err.message });
          if (pc && err.code) await pc.query('ROLLBACK').catch(() => undefined);
        }
        done++;
      }
    } finally {
      await pc?.end().catch(() => undefined);
      await pj?.end({ timeout: 2 }).catch(() => undefined);
    }
  });
  await Promise.all(workers);
  return { ops: done, errors, committed };
}
