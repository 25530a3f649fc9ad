// Applying captured row changes to the mirror, as one transaction: upsert by
// primary key from the full new row, delete by key, truncate. Rows travel as
// the jsonb text the source produced and are turned back into typed rows by
// the mirror itself (jsonb_populate_recordset), so every type round-trips
// through PostgreSQL's own text forms. One statement per run of same-table,
// same-kind changes; the last image of a key within a run wins.
import pg from 'pg';
import { pgClientConfig } from '../../common/pg-config.ts';

export interface Change {
  seq: number;
  /** Qualified, quoted table name as captured: "schema"."table". */
  tbl: string;
  /** U upsert, D delete, T truncate, R re-sync from the source (dirty key). */
  op: 'U' | 'D' | 'T' | 'R';
  /** jsonb text of the key columns. */
  pk: string;
  /** jsonb text of the full new row (U only). */
  row: string | null;
}

/** What a mirror direction writes through: PostgreSQL (MirrorApplier) or an SQLite file (SqliteApplier). */
export interface ChangeApplier {
  /** The changes, in order, as one transaction on the mirror. */
  apply(changes: Change[]): Promise<void>;
  /** An empty apply for each of these tables, rolled back: throws the reason it would fail. */
  probe(tables: string[]): Promise<void>;
  close(): Promise<void>;
}

interface TableMeta {
  columns: string[];
  key: string[];
  upsert: string;
  del: string;
}

const q = (id: string) => '"' + id.replace(/"/g, '""') + '"';

export class MirrorApplyError extends Error {}

export class MirrorApplier implements ChangeApplier {
  pool: pg.Pool;
  private meta = new Map<string, Promise<TableMeta>>();
  /** Whether this role may switch off the mirror's own triggers and FK actions. */
  replicaRole: boolean | null = null;

  constructor(private readonly targetUrl: string, private readonly max = 64, private readonly synchronousCommit = 'on') {
    this.pool = this.makePool(false);
  }

  private makePool(replica: boolean): pg.Pool {
    // session settings travel in the start-up packet: no extra round trip, no query racing the first apply
    const options = [`-c statement_timeout=10000`, `-c synchronous_commit=${this.synchronousCommit}`];
    // the source already ran triggers and cascades: the mirror applies rows, not effects
    if (replica) options.push('-c session_replication_role=replica');
    const pool = new pg.Pool({ ...pgClientConfig(this.targetUrl), application_name: 'cutover-mirror', options: options.join(' '), max: this.max, connectionTimeoutMillis: 5_000, idleTimeoutMillis: 30_000 });
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined)); // a dying target surfaces as a failed apply
    return pool;
  }

  /** Learn once whether this role may use session_replication_role (superuser or equivalent). */
  async init(): Promise<void> {
    const probe = new pg.Client({ ...pgClientConfig(this.targetUrl), options: '-c session_replication_role=replica', connectionTimeoutMillis: 5_000 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      this.replicaRole = true;
    } catch (e) {
      this.replicaRole = (e as { code?: string }).code === '42501' ? false : null;
    } finally {
      await probe.end().catch(() => undefined);
    }
    if (this.replicaRole) {
      const old = this.pool;
      this.pool = this.makePool(true);
      await old.end();
    }
  }

  private tableMeta(client: pg.PoolClient, tbl: string): Promise<TableMeta> {
    let m = this.meta.get(tbl);
    if (!m) {
      m = (async () => {
        const r = await client.query<{ attname: string; key: boolean }>(
          `SELECT a.attname, coalesce(a.attnum = ANY (i.indkey), false) AS key
             FROM pg_attribute a
             LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
            WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
            ORDER BY a.attnum`,
          [tbl],
        );
        if (!r.rows.length) throw new MirrorApplyError(`table ${tbl} does not exist on the target`);
        const columns = r.rows.map((x) => x.attname);
        const key = r.rows.filter((x) => x.key).map((x) => x.attname);
        if (!key.length) throw new MirrorApplyError(`table ${tbl} has no primary key on the target`);
        const cols = columns.map(q).join(', ');
        const nonKey = columns.filter((c) => !key.includes(c));
        const onConflict = nonKey.length
          ? `DO UPDATE SET ${nonKey.map((c) => `${q(c)} = EXCLUDED.${q(c)}`).join(', ')}`
          : 'DO NOTHING';
        return {
          columns,
          key,
          upsert: `INSERT INTO ${tbl} (${cols}) OVERRIDING SYSTEM VALUE SELECT ${cols} FROM jsonb_populate_recordset(NULL::${tbl}, $1::jsonb) ON CONFLICT (${key.map(q).join(', ')}) ${onConflict}`,
          del: `DELETE FROM ${tbl} t USING jsonb_populate_recordset(NULL::${tbl}, $1::jsonb) k WHERE ${key.map((c) => `t.${q(c)} = k.${q(c)}`).join(' AND ')}`,
        };
      })();
      m.catch(() => this.meta.delete(tbl));
      this.meta.set(tbl, m);
    }
    return m;
  }

  /**
   * Apply changes in order, in one mirror transaction and one round trip: the
   * whole transaction goes as one simple-protocol text, rows as dollar-quoted
   * jsonb literals (a tag that occurs nowhere in the payload).
   */
  async apply(changes: Change[]): Promise<void> {
    if (!changes.length) return;
    const client = await this.pool.connect();
    let ok = false;
    try {
      const parts: string[] = ['BEGIN'];
      for (const run of runs(changes)) {
        if (run.op === 'T') {
          parts.push(`TRUNCATE ${run.tbl}`);
          continue;
        }
        const meta = await this.tableMeta(client, run.tbl);
        const payload = '[' + run.items.join(',') + ']';
        const tag = dollarTag(payload);
        parts.push((run.op === 'U' ? meta.upsert : meta.del).replace('$1::jsonb', `${tag}${payload}${tag}::jsonb`));
      }
      parts.push('COMMIT');
      await client.query(parts.join(';\n'));
      ok = true;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw new MirrorApplyError(`mirror apply failed: ${(e as Error).message}`);
    } finally {
      client.release(!ok);
    }
  }

  /**
   * Prove this mirror can take the given tables' changes before it has to:
   * each table's upsert and delete run with an empty batch in a transaction
   * that is rolled back (table present, key known, privileges granted).
   */
  async probe(tables: string[]): Promise<void> {
    const client = await this.pool.connect();
    let ok = false;
    try {
      await client.query('BEGIN');
      for (const tbl of tables) {
        const meta = await this.tableMeta(client, tbl);
        await client.query(meta.upsert, ['[]']);
        await client.query(meta.del, ['[]']);
      }
      await client.query('ROLLBACK');
      ok = true;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw new MirrorApplyError(`mirror apply test failed: ${(e as Error).message}`);
    } finally {
      client.release(!ok);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function dollarTag(payload: string): string {
  for (;;) {
    const tag = `$c${Math.random().toString(36).slice(2, 10)}$`;
    if (!payload.includes(tag)) return tag;
  }
}

interface Run {
  tbl: string;
  op: 'U' | 'D' | 'T';
  items: string[];
}

/** Consecutive changes of one table and one kind, the last image per key kept. */
function runs(changes: Change[]): Run[] {
  const out: Run[] = [];
  let cur: (Run & { byKey: Map<string, number> }) | null = null;
  for (const c of changes) {
    if (c.op === 'R') continue; // re-sync markers are for the drainer
    if (!cur || cur.tbl !== c.tbl || cur.op !== c.op || c.op === 'T') {
      cur = { tbl: c.tbl, op: c.op, items: [], byKey: new Map() };
      out.push(cur);
    }
    if (c.op === 'T') continue;
    const item = c.op === 'U' ? c.row! : c.pk;
    const at = cur.byKey.get(c.pk);
    if (at === undefined) {
      cur.byKey.set(c.pk, cur.items.length);
      cur.items.push(item);
    } else cur.items[at] = item;
  }
  return out;
}
