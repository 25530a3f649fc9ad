// A randomized concurrent workload for the dual-write tests: seeded, so a
// failing seed can be replayed. Serial ids, now()/random() defaults, updates,
// deletes that cascade, multi-statement transactions, rollbacks, savepoints,
// simple and extended protocol, node-postgres and postgres.js.
import pg from 'pg';
import postgres from 'postgres';

export const WORKLOAD_SCHEMA = `
  CREATE TABLE accounts (
    id bigserial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    balance float8 NOT NULL DEFAULT random(),
    score numeric(18,6) NOT NULL DEFAULT 0,
    created timestamptz NOT NULL DEFAULT now(),
    tags text[],
    avatar bytea
  );
  CREATE TABLE notes (
    id serial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    body text NOT NULL,
    meta jsonb,
    updated timestamptz DEFAULT now()
  );
  CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL DEFAULT 0);
  INSERT INTO counters (name) SELECT 'c' || g FROM generate_series(1, 8) g;
`;
export const WORKLOAD_TABLES = ['public.accounts', 'public.notes', 'public.counters'];

/** mulberry32: small, fast, seedable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface WorkloadResult {
  ops: number;
  errors: { code: string | undefined; message: string }[];
}

/** Errors the workload provokes on purpose or that concurrency legitimately produces. */
const EXPECTED = new Set(['23505', '23503', '40001', '40P01']);

export async function runWorkload(url: string, opts: { seed: number; clients: number; ops: number }): Promise<WorkloadResult> {
  const perClient = Math.ceil(opts.ops / opts.clients);
  const errors: WorkloadResult['errors'] = [];
  let done = 0;
  const workers = Array.from({ length: opts.clients }, async (_, w) => {
    const rand = rng(opts.seed * 1000 + w);
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
    const usePgJs = w % 4 === 3;
    const pc = usePgJs ? null : new pg.Client({ connectionString: url });
    const pj = usePgJs ? postgres(url, { max: 1, prepare: true, onnotice: () => undefined }) : null;
    await pc?.connect();
    // simple protocol: text without parameters; extended: parameters
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
            await q('INSERT INTO accounts (email, tags, avatar) VALUES ($1, $2, $3)', [`s${opts.seed}w${w}i${i}@x`, ['a', pick(['b', 'c'])], rand() < 0.3 ? Buffer.from([w, i & 255, 0]) : null]);
          } else if (r < 0.35) {
            await q(`INSERT INTO notes (account_id, body, meta) SELECT id, 'n${w}-${i}', '{"k": ${i}}' FROM accounts WHERE id = ${someId()}`);
          } else if (r < 0.5) {
            await q('UPDATE accounts SET balance = balance * 1.000001 + $1, score = score + 0.5 WHERE id = $2', [rand(), someId()]);
          } else if (r < 0.55) {
            await q(`DELETE FROM accounts WHERE id = ${someId()}`);
          } else if (r < 0.65) {
            await q(`UPDATE counters SET value = value + 1 WHERE name = 'c${1 + Math.floor(rand() * 8)}'`);
          } else if (r < 0.75) {
            // multi-statement transaction
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
  return { ops: done, errors };
}
