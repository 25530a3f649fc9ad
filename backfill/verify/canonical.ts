// One canonical text per value, so an SQLite source and a PostgreSQL target
// (or two PostgreSQL databases) compare bit-exactly: integers as decimal
// text, floats as the hex of their IEEE-754 bits, bytea as hex, booleans t/f,
// timestamps as PostgreSQL prints them, 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC for timestamptz), text
// escaped so that '|' separates columns and '\N' means NULL. PostgreSQL
// computes it in SQL (rows are hashed where they live); SQLite values are
// encoded here, in the process that reads the file.
import { fastTimestamp, timestampText } from '../../common/timestamp-text.ts';
import { qi } from '../schema/model.ts';

export const NULL_MARK = '\\N';

const escSql = (x: string) => `replace(replace(replace(${x}, '\\', '\\\\'), '|', '\\|'), E'\\n', '\\n')`;
export const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\n/g, '\\n');

export type TypeClass = 'int' | 'float' | 'numeric' | 'bool' | 'bytea' | 'timestamp' | 'timestamptz' | 'date' | 'text';

export function typeClass(pgType: string): TypeClass {
  const t = pgType.toLowerCase();
  if (t === 'bigint' || t === 'integer' || t === 'smallint') return 'int';
  if (t === 'double precision' || t === 'real') return 'float';
  if (t.startsWith('numeric')) return 'numeric';
  if (t === 'boolean') return 'bool';
  if (t === 'bytea') return 'bytea';
  if (t.startsWith('timestamp') && t.includes('with time zone')) return 'timestamptz';
  if (t === 'timestamptz') return 'timestamptz';
  if (t.startsWith('timestamp')) return 'timestamp';
  if (t === 'date') return 'date';
  return 'text';
}

/** SQL producing the canonical text of a PostgreSQL column (never NULL). */
export function pgCanonical(column: string, pgType: string): string {
  const c = qi(column);
  let e: string;
  switch (typeClass(pgType)) {
    case 'int': e = `${c}::text`; break;
    case 'float': e = `encode(float8send(${c}::float8), 'hex')`; break;
    case 'numeric': e = `trim_scale(${c})::text`; break;
    // no ELSE: a NULL boolean must stay NULL (\N), not read as false
    case 'bool': e = `CASE WHEN ${c} THEN 't' WHEN NOT ${c} THEN 'f' END`; break;
    case 'bytea': e = `encode(${c}, 'hex')`; break;
    // the server's own output (DateStyle ISO), far cheaper than to_char; UTC for timestamptz
    case 'timestamp': e = `${c}::text`; break;
    case 'timestamptz': e = `(${c} AT TIME ZONE 'UTC')::text`; break;
    case 'date': e = `to_char(${c}, 'YYYY-MM-DD')`; break;
    default: e = escSql(`${c}::text`);
  }
  return `coalesce(${e}, '\\N')`;
}

const f8 = Buffer.alloc(8);
function floatHex(n: number): string {
  f8.writeDoubleBE(n);
  return f8.toString('hex');
}

const textOf = (v: unknown) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

/** Canonical text of an SQLite value as the target column of type `cls` holds it. */
export function sqliteCanonical(v: unknown, cls: TypeClass): string {
  if (v === null || v === undefined) return NULL_MARK;
  switch (cls) {
    case 'int':
      return typeof v === 'bigint' ? v.toString() : esc(textOf(v));
    case 'float':
      return typeof v === 'bigint' || typeof v === 'number' ? floatHex(Number(v)) : esc(textOf(v));
    case 'numeric':
      if (typeof v === 'bigint') return v.toString();
      if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e21 ? BigInt(v).toString() : String(v);
      return esc(textOf(v));
    case 'bool':
      if (typeof v === 'bigint' || typeof v === 'number') return Number(v) ? 't' : 'f';
      if (typeof v === 'string') {
        const s = v.trim().toLowerCase();
        if (['t', 'true', 'y', 'yes', 'on', '1'].includes(s)) return 't';
        if (['f', 'false', 'n', 'no', 'off', '0'].includes(s)) return 'f';
      }
      return esc(textOf(v));
    case 'bytea':
      return Buffer.isBuffer(v) ? v.toString('hex') : Buffer.from(String(v)).toString('hex');
    case 'timestamp':
    case 'timestamptz':
      return (typeof v === 'string' && (fastTimestamp(v) ?? timestampText(v, cls === 'timestamptz'))) || esc(textOf(v));
    case 'date':
      return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v.trim()) ? v.trim() : esc(textOf(v));
    default:
      return esc(textOf(v));
  }
}
