// One canonical text per value, so an SQLite source and a PostgreSQL target
// (or two PostgreSQL databases) compare bit-exactly: integers as decimal
// text, floats as the hex of their IEEE-754 bits, bytea as hex, booleans t/f,
// dates and timestamps as PostgreSQL prints them, 'YYYY-MM-DD[ HH:MM:SS[.ffffff]][ BC]' (UTC for timestamptz), text
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
  // an array of any of these (numeric[], timestamptz[]) is compared by its text, bounds and all
  if (t.endsWith(']')) return 'text';
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

/**
 * SQL producing the canonical text of a PostgreSQL column (never NULL).
 * `againstSqlite`: the other side is an SQLite file, whose numbers keep no
 * scale, so numeric compares by value (1.50 as 1.5); between two PostgreSQL
 * databases the scale is part of the value the application reads back.
 */
export function pgCanonical(column: string, pgType: string, againstSqlite = false): string {
  const c = qi(column);
  let e: string;
  switch (typeClass(pgType)) {
    case 'int': e = `${c}::text`; break;
    case 'float': e = `encode(float8send(${c}::float8), 'hex')`; break;
    case 'numeric': e = againstSqlite ? `trim_scale(${c})::text` : `${c}::text`; break;
    // no ELSE: a NULL boolean must stay NULL (\N), not read as false
    case 'bool': e = `CASE WHEN ${c} THEN 't' WHEN NOT ${c} THEN 'f' END`; break;
    case 'bytea': e = `encode(${c}, 'hex')`; break;
    // the server's own output (DateStyle ISO), far cheaper than to_char; UTC for timestamptz
    case 'timestamp': e = `${c}::text`; break;
    case 'timestamptz': e = `(${c} AT TIME ZONE 'UTC')::text`; break;
    // DateStyle ISO (pg-config.ts) prints YYYY-MM-DD as SQLite keeps it; to_char made every BC date its AD
    // twin, infinity NULL, and failed on dates past the timestamp range
    case 'date': e = `${c}::text`; break;
    default: e = escSql(`${c}::text`);
  }
  return `coalesce(${e}, '\\N')`;
}

const f8 = Buffer.alloc(8);
function floatHex(n: number): string {
  f8.writeDoubleBE(n);
  return f8.toString('hex');
}

/** A date as the file holds it: PostgreSQL's text, its era too ('0044-03-15 BC'). */
const DATE = /^(\d{4,}-\d{2}-\d{2})(\s+BC)?$/i;
const ERA = /\s+BC$/i;
/**
 * Years are moved by this much (a multiple of 400 years, after which the
 * Gregorian calendar repeats, leap days and all) so that every year BC
 * PostgreSQL has (to 4714 BC) is one of four digits timestampText reads.
 */
const ERA_SHIFT = 4800;

/**
 * A timestamp's one spelling, a year BC too, as PostgreSQL prints it
 * ('0044-03-15 10:00:00 BC'): the file holds PostgreSQL's text of it (a
 * timestamptz mirrored back keeps its offset there). Its zone is applied in
 * the proleptic calendar (44 BC has no 29 February; 1 BC has), so an instant
 * may cross into AD. null: not a date-time.
 */
export function eraTimestamp(s: string, utc: boolean): string | null {
  const bc = ERA.exec(s);
  if (!bc) return timestampText(s, utc);
  const m = /^(\d{4})(-.*)$/.exec(s.slice(0, bc.index));
  if (!m) return null;
  // year n BC is year 1 - n in astronomical numbering, where the arithmetic holds
  const shifted = 1 - Number(m[1]) + ERA_SHIFT;
  if (shifted < 1) return null;
  const t = timestampText(String(shifted).padStart(4, '0') + m[2], utc);
  if (!t) return null;
  const year = Number(t.slice(0, 4)) - ERA_SHIFT;
  return year >= 1 ? `${String(year).padStart(4, '0')}${t.slice(4)}` : `${String(1 - year).padStart(4, '0')}${t.slice(4)} BC`;
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
      if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e21 ? BigInt(v).toString() : plainDecimal(String(v)) ?? String(v);
      // a REAL arrives as SQLite's own text of it (SqliteSide), the text the copy gave the target
      return (typeof v === 'string' && plainDecimal(v)) || esc(textOf(v));
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
      return (typeof v === 'string' && (fastTimestamp(v) ?? eraTimestamp(v.trim(), cls === 'timestamptz'))) || esc(textOf(v));
    case 'date': {
      const m = typeof v === 'string' ? DATE.exec(v.trim()) : null;
      return m ? `${m[1]}${m[2] ? ' BC' : ''}` : esc(textOf(v));
    }
    default:
      return esc(textOf(v));
  }
}

/**
 * A number's text (1.0e+25, -1.0e-07, 4.9406564584124654e-324, Inf) as
 * trim_scale(numeric)::text prints the same value: plain digits, no
 * exponent, no trailing fraction zeros. Null when it is not a number.
 */
export function plainDecimal(text: string): string | null {
  const t = text.trim();
  if (/^[+-]?inf(inity)?$/i.test(t)) return t.startsWith('-') ? '-Infinity' : 'Infinity';
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(t);
  if (!m || !(m[2] || m[3])) return null;
  const whole = m[2] ?? '';
  let digits = whole + (m[3] ?? '');
  let point = whole.length + Number(m[4] ?? 0);
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits += '0'.repeat(point - digits.length);
  const int = digits.slice(0, point).replace(/^0+/, '') || '0';
  const frac = digits.slice(point).replace(/0+$/, '');
  if (int === '0' && !frac) return '0'; // numeric has no negative zero
  return (m[1] === '-' ? '-' : '') + int + (frac ? '.' + frac : '');
}
