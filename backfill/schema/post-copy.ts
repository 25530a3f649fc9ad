// What the copy leaves out — unique constraints, foreign keys, secondary
// indexes — built on two target connections as soon as the tables each one
// needs are in: the indexes of a finished table are sorted while the next
// table is still copying, instead of all of them after the last. A foreign
// key waits for both of its tables and for the unique constraints of the
// table it references (it may reference one of them rather than the key).
// A table loaded without its primary key (keyless-load.ts) gets it back
// first; a foreign key referencing that table waits for it. Objects that
// already exist are left alone, so a resumed run can repeat it.
//
// Every build of one table is an index build (the key and unique
// constraints too: an index first, attached after), and index builds take
// locks that let each other run, so two sort side by side. Adding and
// validating a foreign key takes locks that conflict with them: it comes
// after its table's own indexes rather than holding a connection while it
// waits for them.
import pg from 'pg';
import { pgClient } from '../../common/pg-config.ts';
import { foreignKeySql, uniqueSql } from './ddl.ts';
import { addKeySql, targetKeyState } from '../copy/keyless-load.ts';
import type { SchemaPlan, TableDef } from './model.ts';
import { qualifiedName, tableLabel } from './model.ts';

interface Task {
  /**
   * Tokens that must all be satisfied first: `table:<label>` (copied),
   * `uniques:<label>`, `key:<label>`, `indexes:<label>` (every index build of
   * the table, key and uniques included).
   */
  needs: string[];
  /** Tokens this task's completion contributes to (each satisfied when all its tasks are done). */
  gives: string[];
  rank: number;
  run(c: pg.Client): Promise<string | null>;
}

const exists = async (c: pg.Client, t: TableDef, name: string) =>
  Boolean((await c.query(`SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass($1) AND conname = $2`, [qualifiedName(t), name])).rowCount);

/** A constraint built in two statements (index then attach, or add NOT VALID then validate), unless it is there already. */
const constraintTask = (t: TableDef, name: string, sql: [string, string], built: string) => async (c: pg.Client) => {
  if (await exists(c, t, name)) return null;
  for (const s of sql) await c.query(s);
  return built;
};

/**
 * A foreign key's validation is one anti-join of the two tables, planned
 * with work_mem raised to maintenance_work_mem. Freshly loaded tables have
 * no visibility map, so an index-ordered scan of either side visits the
 * heap row by row, and a hash of a large referenced key that size is slower
 * than sorting: two sorts and a merge (measured, 1M users ← 500k sessions:
 * hashed 480 ms, merged along the new user_id index 560 ms, sorted and
 * merged 230 ms). Bitmap scans stay allowed, so a small referencing table
 * still probes the referenced key instead of sorting it.
 */
const VALIDATE_PLAN = ['enable_hashjoin', 'enable_indexscan', 'jit'];

const foreignKeyTask = (t: TableDef, name: string, sql: [string, string], built: string) => async (c: pg.Client) => {
  if (await exists(c, t, name)) return null;
  await c.query(sql[0]);
  await c.query(VALIDATE_PLAN.map((g) => `SET ${g} = off`).join('; '));
  try {
    await c.query(sql[1]);
  } finally {
    await c.query(VALIDATE_PLAN.map((g) => `RESET ${g}`).join('; '));
  }
  return built;
};

function tasksFor(plan: SchemaPlan): Task[] {
  const inPlan = new Set(plan.tables.map(tableLabel));
  const tasks: Task[] = [];
  for (const t of plan.tables) {
    const label = tableLabel(t);
    for (const u of t.uniques) {
      tasks.push({ needs: [`table:${label}`], gives: [`uniques:${label}`, `indexes:${label}`], rank: 0, run: constraintTask(t, u.name, uniqueSql(t, u), `unique constraint ${u.name} on ${label}`) });
    }
    for (const f of t.foreignKeys) {
      const ref = plan.tables.find((r) => r.schema === f.refSchema && r.name === f.refTable);
      // a referenced table outside this run (--tables) is taken as it stands; one that is referenced by
      // its key needs no unique constraint of ours
      const byKey = ref && ref.key.length === f.refColumns.length && ref.key.every((k) => f.refColumns.includes(k));
      const refNeeds = ref && inPlan.has(tableLabel(ref)) ? [`table:${tableLabel(ref)}`, `key:${tableLabel(ref)}`, ...(byKey ? [] : [`uniques:${tableLabel(ref)}`])] : [];
      tasks.push({ needs: [`table:${label}`, `indexes:${label}`, ...refNeeds], gives: [], rank: 1, run: foreignKeyTask(t, f.name, foreignKeySql(t, f), `foreign key ${f.name} on ${label}`) });
    }
    for (const i of t.indexes) {
      tasks.push({ needs: [`table:${label}`], gives: [`indexes:${label}`], rank: 2, run: async (c) => {
        const found = await c.query(`SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, [t.schema, i.name]);
        if (found.rowCount) return null;
        await c.query(i.sql);
        return `index ${i.name} on ${label}`;
      } });
    }
  }
  return tasks;
}

export class PostCopy {
  private readonly satisfied = new Set<string>();
  private tasks: Task[] | null = null;
  /** Tasks still to finish, per token they give. */
  private readonly pending = new Map<string, number>();
  private readonly idle: pg.Client[] = [];
  private running = 0;
  private readonly built: string[] = [];
  private failure: Error | null = null;
  private settled: (() => void) | null = null;
  private planReady: Promise<void> | null = null;
  private closed = false;

  /**
   * `plan` is read when the first table is in, not before: reading it (the
   * full schema, through PostgreSQL's parser) would otherwise hold up the
   * start of the copy, while later it runs beside it.
   */
  constructor(private readonly targetUrl: string, private readonly plan: () => Promise<SchemaPlan>, private readonly parallel = 2) {}

  private load(): Promise<void> {
    this.planReady ??= this.plan().then((p) => {
      this.tasks = tasksFor(p);
      for (const t of p.tables) this.satisfied.add(`uniques:${tableLabel(t)}`).add(`key:${tableLabel(t)}`).add(`indexes:${tableLabel(t)}`);
      for (const task of this.tasks) this.expect(task);
      for (const r of this.restores.splice(0)) this.addRestore(r.t, r.name);
      this.pump();
    }, (e: Error) => {
      this.failure ??= e;
      this.settled?.();
    });
    return this.planReady;
  }

  /** The table's primary key was dropped for the load: it is built back, first, once the table is in. */
  restoreKey(t: TableDef, name: string): void {
    if (this.tasks) this.addRestore(t, name);
    else this.restores.push({ t, name });
  }

  private readonly restores: { t: TableDef; name: string }[] = [];

  private addRestore(t: TableDef, name: string): void {
    const label = tableLabel(t);
    const task: Task = { needs: [`table:${label}`], gives: [`key:${label}`, `indexes:${label}`], rank: -1, run: async (c) => {
      if ((await targetKeyState(c, t)).name) return null;
      for (const s of addKeySql(t, name)) await c.query(s);
      return `primary key ${name} on ${label}`;
    } };
    this.tasks!.push(task);
    this.expect(task);
    this.pump();
  }

  private expect(task: Task): void {
    for (const g of task.gives) {
      this.satisfied.delete(g);
      this.pending.set(g, (this.pending.get(g) ?? 0) + 1);
    }
  }

  /** A table's rows are all in: what needs only it (and tables already in) starts now. */
  tableCopied(label: string): void {
    this.satisfied.add(`table:${label}`);
    void this.load();
    this.pump();
  }

  /** Waits for every task (each table must have been reported copied); returns what was built. */
  async finish(): Promise<string[]> {
    await this.load();
    await new Promise<void>((resolve) => {
      this.settled = resolve;
      this.check();
    });
    const left = this.tasks?.length ?? 0;
    await this.close();
    if (this.failure) throw this.failure;
    if (left) throw new Error(`${left} index/constraint task(s) never became ready: a table was not reported copied`);
    return this.built.sort((a, b) => rank(a) - rank(b));
  }

  /** Lets running tasks end and closes the connections, building nothing more (the copy failed). */
  async close(): Promise<void> {
    this.closed = true;
    this.tasks = this.tasks?.length ? [] : this.tasks;
    while (this.running) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(this.idle.splice(0).map((c) => c.end().catch(() => undefined)));
  }

  private check(): void {
    if (this.settled && !this.running && (this.failure || !this.tasks?.some((t) => this.ready(t)))) this.settled();
  }

  private ready(t: Task): boolean {
    return t.needs.every((n) => this.satisfied.has(n));
  }

  private pump(): void {
    if (!this.tasks || this.failure || this.closed) return this.check();
    while (this.running < this.parallel) {
      const i = this.bestReady();
      if (i < 0) break;
      const [task] = this.tasks.splice(i, 1);
      this.running++;
      void this.runTask(task!);
    }
    this.check();
  }

  private bestReady(): number {
    let best = -1;
    this.tasks!.forEach((t, i) => {
      if (this.ready(t) && (best < 0 || t.rank < this.tasks![best]!.rank)) best = i;
    });
    return best;
  }

  private async runTask(task: Task): Promise<void> {
    let c: pg.Client | undefined;
    try {
      c = await this.client();
      const done = await task.run(c);
      if (done) this.built.push(done);
      for (const g of task.gives) {
        const left = (this.pending.get(g) ?? 1) - 1;
        this.pending.set(g, left);
        if (!left) this.satisfied.add(g);
      }
    } catch (e) {
      this.failure ??= e as Error;
    } finally {
      if (c) this.idle.push(c);
      this.running--;
      this.pump();
    }
  }

  private async client(): Promise<pg.Client> {
    const free = this.idle.pop();
    if (free) return free;
    const c = pgClient(this.targetUrl);
    await c.connect();
    // two builds run at once, beside the copy of the other tables: parallel workers of their own would
    // only fight them for the same cores (measured: the whole backfill 5 % slower with them).
    // A foreign key's validation joins the two tables with work_mem raised to maintenance_work_mem:
    // a hash of the referenced keys that large is slower than a merge along the referenced key's index
    // (measured: 1M users ← 500k sessions 480 ms hashed, 210 ms merged); nothing else here joins.
    await c.query(`SET maintenance_work_mem = '256MB'; SET max_parallel_maintenance_workers = 0; SET max_parallel_workers_per_gather = 0; SET enable_hashjoin = off`);
    return c;
  }
}

const rank = (s: string) => (s.startsWith('primary') ? -1 : s.startsWith('unique') ? 0 : s.startsWith('foreign') ? 1 : 2);

/** Everything at once, for tables already in (tests, scripts). */
export async function applyPostCopy(targetUrl: string, plan: SchemaPlan, parallel = 2): Promise<string[]> {
  const post = new PostCopy(targetUrl, async () => plan, parallel);
  for (const t of plan.tables) post.tableCopied(tableLabel(t));
  return post.finish();
}
