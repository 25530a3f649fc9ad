// The two databases number their own objects: a table or a type the schema
// copy created has one OID on the legacy server and another on the new one.
// A read answered by the other database describes its columns by that
// database's OIDs (RowDescription: table, column number, type; and a
// statement's ParameterDescription), and a driver looks them up in the
// catalogs, which the source of truth answers: pgjdbc then reported no table or
// base column, an array of an enum as another relation's row type, and its
// updatable result sets built an UPDATE with an empty column name. So the
// answer is renumbered to the source of truth's objects, in place (the OIDs are
// fixed-width), matched by schema and name (columns by name). What cannot be
// matched, or a user type's value in binary form (an array or a record carries
// its element OIDs inside the value), is not sent: the read runs on the source
// of truth instead.
import type { Side } from '../common/live-state.ts';
import type { Logger } from '../common/log.ts';
import { catalogRows } from '../common/pg-config.ts';

/** PostgreSQL's first OID for objects not built in (FirstNormalObjectId): the built-in ones agree. */
const FIRST_USER_OID = 16384;
/**
 * `record` and `record[]`: built in, but a row value in binary form carries each field's type OID inside it,
 * the answering server's own (ROW(enum_col, …)): decoded by the source's numbers, a user type's field became
 * raw bytes (psycopg 3). Such an answer is treated as a user type in binary form.
 */
const RECORD_TYPES = new Set([2249, 2287]);
/** A miss re-reads the catalogs at most this often (the read waits for it, or the source answers it). */
const REFRESH_MIN_MS = 500;

const CATALOG_SQL = `
  SELECT 'r' AS k, c.oid::int8 AS oid, n.nspname AS a, c.relname AS b
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid >= ${FIRST_USER_OID} AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND n.nspname NOT LIKE 'pg\\_temp\\_%'
  UNION ALL
  SELECT 't', t.oid::int8, n.nspname, t.typname
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE t.oid >= ${FIRST_USER_OID} AND n.nspname NOT LIKE 'pg\\_temp\\_%'
  UNION ALL
  SELECT 'a', a.attrelid::int8, a.attnum::text, a.attname
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
   WHERE a.attrelid >= ${FIRST_USER_OID} AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')`;

/** One database's user objects, both ways. */
class Catalog {
  readonly relName = new Map<number, string>();
  readonly relOid = new Map<string, number>();
  readonly typName = new Map<number, string>();
  readonly typOid = new Map<string, number>();
  readonly attName = new Map<number, Map<number, string>>();
  readonly attNum = new Map<number, Map<string, number>>();

  add(k: string, oid: number, a: string, b: string): void {
    if (k === 'a') {
      const num = Number(a);
      let names = this.attName.get(oid);
      if (!names) this.attName.set(oid, (names = new Map()));
      names.set(num, b);
      let nums = this.attNum.get(oid);
      if (!nums) this.attNum.set(oid, (nums = new Map()));
      nums.set(b, num);
      return;
    }
    // schema and name, NUL-joined: neither can contain a NUL
    const key = `${a}\0${b}`;
    if (k === 'r') {
      this.relName.set(oid, key);
      this.relOid.set(key, oid);
    } else {
      this.typName.set(oid, key);
      this.typOid.set(key, oid);
    }
  }
}

export type Renumbered = 'ok' | 'unknown' | 'never';

export class OidMap {
  private catalogs: Partial<Record<Side, Catalog>> = {};
  private refreshing: Promise<void> | null = null;
  private refreshedAt = 0;

  constructor(
    private readonly urls: Record<Side, string>,
    private readonly log: Logger,
  ) {}

  /** Reads both catalogs (a database that cannot be reached keeps what was read before). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const [legacy, next] = await Promise.all([this.read(this.urls.legacy), this.read(this.urls.new)]);
        if (legacy) this.catalogs.legacy = legacy;
        if (next) this.catalogs.new = next;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /**
   * After a miss: the catalogs again, unless read moments ago (new objects are DDL, rare while migrating).
   * Resolves once read (at once when not due): a table created since the last reading is then known.
   */
  async missed(): Promise<void> {
    if (Date.now() - this.refreshedAt >= REFRESH_MIN_MS) {
      this.refreshedAt = Date.now();
      await this.refresh().catch(() => undefined);
    } else await this.refreshing?.catch(() => undefined);
  }

  private async read(url: string): Promise<Catalog | null> {
    try {
      const cat = new Catalog();
      for (const row of await catalogRows<{ k: string; oid: string; a: string; b: string }>(url, CATALOG_SQL)) cat.add(row.k, Number(row.oid), row.a, row.b);
      return cat;
    } catch (e) {
      this.log.debug({ reason: (e as Error).message }, 'could not read the catalog to renumber routed answers');
      return null;
    }
  }

  /**
   * Renumbers, in place, a RowDescription or ParameterDescription that the
   * database `from` sent, to the objects of `to`. Otherwise the message must
   * not reach the client: `unknown`, a number the catalogs as last read do not
   * have; `never`, a user type in binary form.
   */
  translate(m: Buffer, from: Side, to: Side): Renumbered {
    const type = m[0];
    if (type !== 0x54 && type !== 0x74) return 'ok';
    const src = this.catalogs[from];
    const dst = this.catalogs[to];
    const n = m.readInt16BE(5);
    // all or nothing: written only once every number has its match (a failed one may be tried again)
    const writes: [offset: number, value: number, bytes: 2 | 4][] = [];
    let i = 7;
    if (type === 0x74) {
      for (let f = 0; f < n; f++, i += 4) {
        const oid = m.readUInt32BE(i);
        if (oid < FIRST_USER_OID) continue;
        const mapped = src && dst ? mapName(src.typName, dst.typOid, oid) : undefined;
        if (mapped === undefined) return 'unknown';
        writes.push([i, mapped, 4]);
      }
    } else {
      for (let f = 0; f < n; f++) {
        i = m.indexOf(0, i) + 1;
        const table = m.readUInt32BE(i);
        const column = m.readInt16BE(i + 4);
        const typeOid = m.readUInt32BE(i + 6);
        const format = m.readInt16BE(i + 16);
        if (table >= FIRST_USER_OID) {
          const mapped = src && dst ? mapName(src.relName, dst.relOid, table) : undefined;
          if (mapped === undefined) return 'unknown';
          if (column > 0) {
            const name = src!.attName.get(table)?.get(column);
            const num = name === undefined ? undefined : dst!.attNum.get(mapped)?.get(name);
            if (num === undefined) return 'unknown';
            writes.push([i + 4, num, 2]);
          }
          writes.push([i, mapped, 4]);
        }
        if (format !== 0 && RECORD_TYPES.has(typeOid)) return 'never';
        if (typeOid >= FIRST_USER_OID) {
          if (format !== 0) return 'never';
          const mapped = src && dst ? mapName(src.typName, dst.typOid, typeOid) : undefined;
          if (mapped === undefined) return 'unknown';
          writes.push([i + 6, mapped, 4]);
        }
        i += 18;
      }
    }
    for (const [at, value, bytes] of writes) {
      if (bytes === 4) m.writeUInt32BE(value, at);
      else m.writeInt16BE(value, at);
    }
    return 'ok';
  }
}

function mapName(names: Map<number, string>, oids: Map<string, number>, oid: number): number | undefined {
  const name = names.get(oid);
  return name === undefined ? undefined : oids.get(name);
}

/** Whether a Parse names a parameter type that is not built in (its OID means something else on the other database). */
export function namesUserTypes(oids: number[]): boolean {
  return oids.some((o) => o >= FIRST_USER_OID);
}
