// PostgreSQL type OIDs for SQLite values, and their text/binary wire encodings.
//
// SQLite stores INTEGER (64-bit, read as bigint: safeIntegers), REAL, TEXT, BLOB,
// NULL. A result column's OID comes from its declared type when it has one,
// else from the translator's hint (casts, literals, known functions), else from
// the values themselves. Booleans are 0/1, dates and timestamps ISO-8601 text
// ('YYYY-MM-DD HH:MM:SS[.ffffff]', UTC, common/timestamp-text.ts); output normalises them to the text forms
// PostgreSQL prints, so clients parse them as they would from PostgreSQL.
import { calendarDay, fraction, hasZone, ONE_SPELLING, timestampText } from '../../common/timestamp-text.ts';
import { localToUtc, offsetText, UTC_ZONE, type Zone } from './time-zone.ts';
import { date2j, END_JULIAN_DAY, outOfRange, readDateTime, storedDate, validJulian, type InputContext } from './date-input.ts';
import { PgError, unsupported } from './errors.ts';
import { textInput } from './text-input.ts';

export const OID = {
  bool: 16, bytea: 17, name: 19, int8: 20, int2: 21, int4: 23, text: 25, oid: 26,
  json: 114, float4: 700, float8: 701, unknown: 705, bpchar: 1042, varchar: 1043,
  date: 1082, time: 1083, timestamp: 1114, timestamptz: 1184, numeric: 1700, void: 2278, uuid: 2950, jsonb: 3802,
} as const;

const SIZE: Record<number, number> = { 16: 1, 19: 64, 20: 8, 21: 2, 23: 4, 26: 4, 700: 4, 701: 8, 1082: 4, 1083: 8, 1114: 8, 1184: 8, 2278: 4, 2950: 16 };
export const typeSize = (oid: number): number => SIZE[oid] ?? -1;

/** OID for an SQLite declared column type (PostgreSQL names and SQLite's own). */
export function oidOfDeclared(declared: string | null | undefined): number | undefined {
  if (!declared) return undefined;
  const t = declared.toUpperCase().replace(/\(.*\)/, '').trim();
  if (t === 'BOOL' || t === 'BOOLEAN') return OID.bool;
  if (t === 'OID') return OID.oid;
  if (t === 'NAME') return OID.name;
  if (t === 'SMALLINT' || t === 'INT2') return OID.int2;
  if (t === 'INT4') return OID.int4;
  if (t.includes('INT') || t.includes('SERIAL')) return OID.int8;
  if (t === 'FLOAT4') return OID.float4;
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return OID.float8;
  if (t.startsWith('NUMERIC') || t.startsWith('DECIMAL')) return OID.numeric;
  if (t.includes('TIMESTAMPTZ') || t.includes('WITH TIME ZONE')) return OID.timestamptz;
  if (t.includes('TIMESTAMP') || t === 'DATETIME') return OID.timestamp;
  if (t === 'DATE') return OID.date;
  if (t === 'TIME' || t === 'TIME WITHOUT TIME ZONE') return OID.time;
  if (t.includes('VARCHAR') || t.includes('CHARACTER VARYING')) return OID.varchar;
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return OID.text;
  if (t.includes('BLOB') || t === 'BYTEA') return OID.bytea;
  if (t === 'UUID') return OID.uuid;
  if (t === 'JSON') return OID.json;
  if (t === 'JSONB') return OID.jsonb;
  return undefined;
}

export type SqlValue = bigint | number | string | Buffer | null;

const INT4_MIN = -2147483648n;
const INT4_MAX = 2147483647n;

/** OID for a column of expression values: int4 when every integer fits, else int8; float8; text; bytea. */
export function oidOfValues(values: Iterable<SqlValue>): number {
  let kind: number | undefined;
  let wide = false;
  for (const v of values) {
    if (v === null) continue;
    const k = typeof v === 'bigint' ? OID.int8 : typeof v === 'number' ? OID.float8 : typeof v === 'string' ? OID.text : OID.bytea;
    if (typeof v === 'bigint' && (v < INT4_MIN || v > INT4_MAX)) wide = true;
    if (kind === undefined) kind = k;
    else if (kind !== k) {
      if ((kind === OID.int8 && k === OID.float8) || (kind === OID.float8 && k === OID.int8)) kind = OID.float8;
      else return OID.text;
    }
  }
  if (kind === OID.int8 && !wide) return OID.int4;
  return kind ?? OID.text;
}

// ---------- output ----------

export function formatFloat(n: number, fixedBelow = 15): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (Object.is(n, -0)) return '-0';
  // shortest round-trip digits, as PostgreSQL prints with extra_float_digits >= 1: fixed from 1e-4 to below
  // 1e15 (float4: 1e6), as printf's %g; else an exponent of at least two digits (1e-05, 1.5e+15)
  const [mantissa, e] = n.toExponential().split('e') as [string, string];
  const exp = Number(e);
  if (exp >= -4 && exp < fixedBelow) return String(n);
  return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

function hex(b: Buffer): string {
  return '\\x' + b.toString('hex');
}

/** A boolean as PostgreSQL reads one (t, yes, on, 1 …; a number: nonzero); null when it is none. */
export function asBool(v: SqlValue): boolean | null {
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (['t', 'true', '1', 'y', 'yes', 'on'].includes(s)) return true;
    if (['f', 'false', '0', 'n', 'no', 'off'].includes(s)) return false;
  }
  return null;
}

/**
 * Stored timestamp → PostgreSQL's output form: the one spelling
 * (common/timestamp-text.ts) with '+00' for timestamptz. Text the file holds
 * in another form (written before the proxy, or by another program) is read
 * as PostgreSQL would have read it on input; what is no date-time is sent as stored.
 */
function timestampOut(v: SqlValue, withZone: boolean, zone: Zone): string {
  if (typeof v === 'bigint' || typeof v === 'number') {
    const text = microsText(BigInt(Math.round(Number(v) * 1e6)) - BigInt(PG_EPOCH_MS) * 1000n);
    return withZone ? inZone(text, zone) : text;
  }
  const s = String(v);
  if (SPECIAL_TIMESTAMP.has(s)) return s;
  const text = ONE_SPELLING.test(s) ? s : timestampText(s, withZone);
  return text === null ? s : withZone ? inZone(text, zone) : text;
}

/** Microseconds since 2000 (parseUtcMicros) as Unix milliseconds, floored. */
const unixMs = (us: bigint): number => PG_EPOCH_MS + Number((us - (((us % 1000n) + 1000n) % 1000n)) / 1000n);

/** Stored UTC text as the wall-clock time in `zone` (one spelling), and the zone's offset then. */
function toZone(utcText: string, zone: Zone): { local: string; offset: number } {
  if (zone.utc) return { local: utcText, offset: 0 };
  const us = parseUtcMicros(utcText);
  const offset = zone.offsetAt(unixMs(us));
  return { local: microsText(us + BigInt(offset) * 1_000_000n), offset };
}

/** Stored UTC text as PostgreSQL prints a timestamptz in the session's zone: local time and its offset. */
function inZone(utcText: string, zone: Zone): string {
  const { local, offset } = toZone(utcText, zone);
  return local + offsetText(offset);
}

/** Local wall-clock text (the one spelling) in `zone` → the stored UTC text. */
function fromZone(localText: string, zone: Zone): string {
  if (zone.utc) return localText;
  const us = parseUtcMicros(localText);
  const localMs = unixMs(us);
  return microsText(us + BigInt(localToUtc(zone, localMs) - localMs) * 1000n);
}

/** A stored date-time in the one spelling (UTC for timestamptz); null for what is no date-time. */
function storedText(v: SqlValue, withZone: boolean): string | null {
  if (typeof v === 'bigint' || typeof v === 'number') return microsText(BigInt(Math.round(Number(v) * 1e6)) - BigInt(PG_EPOCH_MS) * 1000n);
  const s = String(v);
  return ONE_SPELLING.test(s) ? s : timestampText(s, withZone);
}

/**
 * A cast between date, timestamp and timestamptz (or from text to one) as
 * PostgreSQL's, which reads and writes local time in the session's zone:
 * timestamptz → date is the local day, timestamp → timestamptz takes the
 * wall-clock time as local. `from`: the value's type, as declared.
 */
export function castTime(v: SqlValue, from: number | undefined, to: number, zone: Zone): SqlValue {
  if (v === null || from === to || (typeof v === 'string' && SPECIAL_TIMESTAMP.has(v))) return v;
  if (from !== OID.date && from !== OID.timestamp && from !== OID.timestamptz) {
    // text read by the type's own input (date_in drops a time, and words its errors for date)
    return typeof v === 'string' ? decodeTextParam(v, to, zone) : v;
  }
  const stored = from === OID.date ? (/^\d{4}-\d\d-\d\d$/.test(String(v)) ? `${String(v)} 00:00:00` : null) : storedText(v, from === OID.timestamptz);
  if (stored === null) return v;
  if (from === OID.timestamptz) {
    const { local } = toZone(stored, zone);
    return to === OID.date ? local.slice(0, 10) : local;
  }
  // a date or a timestamp: wall-clock time
  return to === OID.date ? stored.slice(0, 10) : to === OID.timestamptz ? fromZone(stored, zone) : stored;
}

/** The wall-clock time now in `zone`, as local text (LOCALTIMESTAMP; 'now'::timestamp). */
export function localNowText(unixMicros: number, zone: Zone): string {
  return microsText(BigInt(Math.round(unixMicros)) + BigInt(zone.offsetAt(unixMicros / 1000)) * 1_000_000n - BigInt(PG_EPOCH_MS) * 1000n);
}

const SPECIAL_TIMESTAMP = new Set(['infinity', '-infinity']);

/** numeric(p,s) of a declared type as PostgreSQL's typmod; undefined for other types and a bare numeric. */
export function numericTypmod(declared: string | null | undefined): number | undefined {
  const m = declared && /^\s*(?:NUMERIC|DECIMAL)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/i.exec(declared);
  return m ? ((Number(m[1]) << 16) | Number(m[2] ?? 0)) + 4 : undefined;
}

/**
 * A numeric column with a scale prints every value with that many decimals
 * (numeric(10,2): 12.50, 7.00), as PostgreSQL does. SQLite's NUMERIC affinity
 * keeps 12.5 or 7; text it could not read as a number is left as stored.
 */
function withScale(v: SqlValue, scale: number): string | null {
  if (typeof v === 'bigint') return scale ? `${v}.${'0'.repeat(scale)}` : String(v);
  if (typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < 1e21) return v.toFixed(scale);
  return null;
}

/** Text-format cell for a value under the column's OID (and typmod, for numeric). */
export function encodeText(v: SqlValue, oid: number, typmod = -1, zone: Zone = UTC_ZONE): string {
  if (v === null) return '';
  if (oid === OID.numeric && typmod >= 4) {
    const scaled = withScale(v, (typmod - 4) & 0xffff);
    if (scaled !== null) return scaled;
  }
  switch (oid) {
    case OID.bool: {
      const b = asBool(v);
      return b === null ? String(v) : b ? 't' : 'f';
    }
    case OID.float4:
    case OID.float8:
      return typeof v === 'number' ? formatFloat(v, oid === OID.float4 ? 6 : 15) : Buffer.isBuffer(v) ? hex(v) : String(v);
    case OID.numeric:
      // numeric never prints an exponent
      return typeof v === 'number' ? (Number.isFinite(v) && Math.abs(v) < 1e21 && Math.abs(v) >= 1e-6 ? String(v) : formatFloat(v, 21)) : Buffer.isBuffer(v) ? hex(v) : String(v);
    case OID.bytea:
      return hex(Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8'));
    case OID.timestamp:
      return timestampOut(v, false, zone);
    case OID.timestamptz:
      return timestampOut(v, true, zone);
    case OID.date:
      // a time after the day is dropped; an era ('4713-01-01 BC', kept as written) is not
      return typeof v === 'string' && /^\d{4}-\d\d-\d\d[T ]\d/.test(v) ? v.slice(0, 10) : typeof v === 'string' ? v : timestampOut(v, false, zone).slice(0, 10);
    default:
      if (typeof v === 'number') return formatFloat(v);
      if (Buffer.isBuffer(v)) return hex(v);
      return String(v);
  }
}

/**
 * A value as text, as PostgreSQL casts a value of the declared column type to
 * text: its type's output (numeric at its scale, timestamptz with its zone),
 * except a boolean, 'true'/'false' in a cast and 't'/'f' from its output
 * function (`output`: concat()). Declared type unknown: the value as it is.
 */
export function textOf(v: SqlValue, declared: string | null, output: boolean, zone: Zone = UTC_ZONE): string | null {
  if (v === null) return null;
  const oid = oidOfDeclared(declared);
  if (oid === undefined) return typeof v === 'number' ? formatFloat(v) : Buffer.isBuffer(v) ? hex(v) : String(v);
  const typmod = numericTypmod(declared) ?? -1;
  return output ? encodeText(v, oid, typmod, zone) : castToText(v, oid, typmod, zone);
}

const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

function parseUtcMicros(s: string): bigint {
  const m = s.match(/^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?)?\s*(Z|[+-]\d\d(?::?\d\d)?)?$/);
  if (!m) throw new PgError('22007', `invalid input syntax for type timestamp: "${s}"`);
  let ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    ms -= sign * (+digits.slice(0, 2) * 60 + +(digits.slice(2) || 0)) * 60_000;
  }
  const frac = BigInt((m[7] ?? '').padEnd(6, '0'));
  return BigInt(ms - PG_EPOCH_MS) * 1000n + frac;
}

/** Binary-format cell for a value under the column's OID. */
export function encodeBinary(v: SqlValue, oid: number, typmod = -1): Buffer {
  if (v === null) return Buffer.alloc(0);
  if (oid === OID.numeric) return numericBinary(encodeText(v, oid, typmod));
  const num = (): number => (typeof v === 'bigint' ? Number(v) : Number(v));
  const int = (): bigint => {
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
    if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return BigInt(v.trim());
    throw new PgError('22P03', `value ${String(v)} cannot be sent as a binary integer`);
  };
  let b: Buffer;
  switch (oid) {
    case OID.bool:
      return Buffer.from([asBool(v) ? 1 : 0]);
    case OID.int2:
      b = Buffer.allocUnsafe(2);
      b.writeInt16BE(Number(int()));
      return b;
    case OID.int4:
    case OID.oid:
      b = Buffer.allocUnsafe(4);
      b.writeInt32BE(Number(int()));
      return b;
    case OID.int8:
      b = Buffer.allocUnsafe(8);
      b.writeBigInt64BE(int());
      return b;
    case OID.float4:
      b = Buffer.allocUnsafe(4);
      b.writeFloatBE(num());
      return b;
    case OID.float8:
      b = Buffer.allocUnsafe(8);
      b.writeDoubleBE(num());
      return b;
    case OID.bytea:
      return Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'utf8');
    case OID.date: {
      const days = Number(parseUtcMicros(encodeText(v, OID.date)) / 86_400_000_000n);
      b = Buffer.allocUnsafe(4);
      b.writeInt32BE(days);
      return b;
    }
    case OID.timestamp:
    case OID.timestamptz:
      b = Buffer.allocUnsafe(8);
      b.writeBigInt64BE(parseUtcMicros(encodeText(v, OID.timestamp)));
      return b;
    case OID.text:
    case OID.varchar:
    case OID.bpchar:
    case OID.name:
    case OID.json:
    case OID.unknown:
      return Buffer.from(encodeText(v, oid), 'utf8');
    case OID.void:
      return Buffer.alloc(0);
    default:
      throw new PgError('0A000', `binary output format for type oid ${oid} is not supported by the SQLite source; request text format`);
  }
}

/**
 * Decimal text ('-12.50', '1e-7') as its digits and where the point falls
 * among them, the exponent applied: below 0 or past the end means zeros
 * before or after the digits. Null for what is not decimal text.
 */
export function decimalParts(text: string): { negative: boolean; digits: string; point: number } | null {
  const m = /^([+-]?)(\d*)\.?(\d*)(?:e([+-]?\d+))?$/i.exec(text.trim());
  if (!m) return null;
  return { negative: m[1] === '-', digits: (m[2] ?? '') + (m[3] ?? ''), point: (m[2] ?? '').length + Number(m[4] ?? 0) };
}

/**
 * numeric's binary form from its text: ndigits, weight, sign, dscale (int16
 * each), then base-10000 digits, the first of weight `weight`. The display
 * scale is the text's (12.50 keeps 2); NaN and ±Infinity have their signs.
 */
function numericBinary(text: string): Buffer {
  const header = (ndigits: number, weight: number, sign: number, dscale: number) => {
    const b = Buffer.alloc(8 + ndigits * 2);
    b.writeInt16BE(ndigits, 0);
    b.writeInt16BE(weight, 2);
    b.writeUInt16BE(sign, 4);
    b.writeInt16BE(dscale, 6);
    return b;
  };
  const t = text.trim();
  if (/^nan$/i.test(t)) return header(0, 0, 0xc000, 0);
  if (/^\+?infinity$/i.test(t)) return header(0, 0, 0xd000, 0);
  if (/^-infinity$/i.test(t)) return header(0, 0, 0xf000, 0);
  const parts = decimalParts(t);
  if (!parts) throw new PgError('22P03', `value ${text} cannot be sent as a binary numeric`);
  let { digits, point } = parts;
  const dscale = Math.max(0, digits.length - point);
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits = digits.padEnd(point, '0');
  // whole groups of four on both sides of the point
  const lead = (4 - (point % 4)) % 4;
  digits = '0'.repeat(lead) + digits;
  point += lead;
  digits = digits.padEnd(point + Math.ceil((digits.length - point) / 4) * 4, '0');
  const groups: number[] = [];
  for (let i = 0; i < digits.length; i += 4) groups.push(Number(digits.slice(i, i + 4)));
  let weight = point / 4 - 1;
  while (groups.length && groups[0] === 0) {
    groups.shift();
    weight--;
  }
  while (groups.length && groups[groups.length - 1] === 0) groups.pop();
  if (!groups.length) return header(0, 0, 0, dscale);
  const b = header(groups.length, weight, parts.negative ? 0x4000 : 0, dscale);
  groups.forEach((g, i) => b.writeInt16BE(g, 8 + i * 2));
  return b;
}

// ---------- input (Bind parameters) ----------

const CANONICAL_INT = /^-?(0|[1-9]\d{0,18})$/;

function decodeBytea(s: string): Buffer {
  if (s.startsWith('\\x')) return Buffer.from(s.slice(2), 'hex');
  // escape format: \\ and \ooo
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && s[i + 1] === '\\') {
      out.push(92);
      i++;
    } else if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      out.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else out.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(out);
}

/** PostgreSQL's name for an integer type in its messages. */
/** format_type's names, for PostgreSQL's messages. */
const TYPE_NAMES: Record<number, string> = {
  [OID.bool]: 'boolean', [OID.bytea]: 'bytea', [OID.name]: 'name', [OID.int8]: 'bigint', [OID.int2]: 'smallint', [OID.int4]: 'integer',
  [OID.text]: 'text', [OID.oid]: 'oid', [OID.json]: 'json', [OID.float4]: 'real', [OID.float8]: 'double precision', [OID.bpchar]: 'character',
  [OID.varchar]: 'character varying', [OID.date]: 'date', [OID.time]: 'time without time zone', [OID.timestamp]: 'timestamp without time zone',
  [OID.timestamptz]: 'timestamp with time zone', [OID.numeric]: 'numeric', [OID.uuid]: 'uuid', [OID.jsonb]: 'jsonb',
};
export const typeDisplayName = (oid: number): string => TYPE_NAMES[oid] ?? `oid ${oid}`;
/** An integer type's name (anything else is taken for int8). */
export const intTypeName = (oid: number): string => (oid === OID.int2 || oid === OID.int4 || oid === OID.oid ? TYPE_NAMES[oid]! : 'bigint');

/** Text into int2/int4/int8 as PostgreSQL's input function reads it: blanks around, a sign, digits. */
export function parseIntInput(s: string, oid: number): bigint {
  const t = s.trim();
  if (!/^[+-]?\d+$/.test(t)) throw new PgError('22P02', `invalid input syntax for type ${intTypeName(oid)}: "${s}"`);
  const n = BigInt(t);
  const lim = oid === OID.int2 ? 32767n : oid === OID.int4 ? 2147483647n : 9223372036854775807n;
  if (n > lim || n < -lim - 1n) throw new PgError('22003', `value "${s}" is out of range for type ${intTypeName(oid)}`);
  return n;
}

/** An instant (microseconds since the Unix epoch) as the proxy stores timestamps. */
export const instantText = (unixMicros: number): string => microsText(BigInt(Math.round(unixMicros)) - BigInt(PG_EPOCH_MS) * 1000n);

/**
 * Microseconds since 2000-01-01 UTC as the stored text. Milliseconds by floor
 * division: BigInt division truncates toward zero, which before 2000 put the
 * sub-millisecond part on the wrong millisecond (.123456 came out .124456).
 */
function microsText(us: bigint): string {
  const micros = ((us % 1000n) + 1000n) % 1000n;
  const iso = new Date(PG_EPOCH_MS + Number((us - micros) / 1000n)).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  return iso.slice(0, 10) + ' ' + iso.slice(11, 19) + fraction(iso.slice(20, 23) + String(micros).padStart(3, '0'));
}

/**
 * Timestamp input → the one spelling the proxy stores and compares in
 * (common/timestamp-text.ts): UTC for timestamptz (a zone given is applied, none
 * means the session's TimeZone), the zone ignored for timestamp as PostgreSQL
 * ignores it. Written and compared in one spelling, '10:00:00.5' equals
 * '10:00:00.500+00' and '2024-01-05T11:00:00+01:00' sorts among the others.
 * Any spelling PostgreSQL's timestamp input reads is read ('Jan 5 2024 10:00
 * PST', '1/5/2024 10:00' in the session's DateStyle: date-input.ts); what it
 * refuses is refused with its error.
 */
function normaliseTimestamp(s: string, withZone: boolean, zone: Zone): string {
  // the common ISO forms, as before; the rest (and these at the edges of the calendar) through PostgreSQL's reading
  const fast = FAST_TIMESTAMP.exec(s);
  if (fast && isoFieldsPlain(fast)) {
    const text = timestampText(s, withZone)!;
    return withZone && !zone.utc && !hasZone(s) ? fromZone(text, zone) : text;
  }
  const type = withZone ? 'timestamptz' : 'timestamp';
  const r = readDateTime(s, type, inputContext(zone));
  if (r.special) return r.special === 'epoch' ? '1970-01-01 00:00:00' : r.special;
  if (!validJulian(r.year, r.month)) throw outOfRange(s, type);
  const days = date2j(r.year, r.month, r.day) - UNIX_EPOCH_J;
  const clock = ((r.hour * 60 + r.minute) * 60 + r.second) * 1_000_000 + r.micros;
  const local = BigInt(days) * 86_400_000_000n + BigInt(clock);
  let east = 0;
  if (withZone) {
    if (r.offset !== undefined) east = r.offset;
    else {
      // the offset the named zone (or the session's) has at that wall-clock time; past the years the clock
      // reads (only for the range check), its offset at the nearest end of them
      const localMs = r.year < 1 ? Date.parse('0001-01-01T12:00:00Z') : r.year > 9999 ? Date.parse('9999-12-31T12:00:00Z') : unixMs(local - BigInt(PG_EPOCH_MS) * 1000n);
      east = (localMs - localToUtc(r.zone ?? zone, localMs)) / 1000;
    }
  }
  const utc = local - BigInt(Math.round(east * 1e6));
  // PostgreSQL's span: Julian day 0 (4714-11-24 BC) to 294277-01-01, as UTC
  if (utc < MIN_TIMESTAMP_US || utc >= END_TIMESTAMP_US) throw outOfRange(s, type);
  const us = utc - BigInt(PG_EPOCH_MS) * 1000n;
  if (us < FIRST_AD_US) throw unsupported('a date before the common era (BC)');
  if (us >= YEAR_10000_US) throw unsupported('a timestamp after the year 9999');
  return microsText(us);
}

/** 'YYYY-MM-DD[ HH:MM[:SS[.ffffff]]][Z|±HH[[:]MM]]': what applications and drivers send, read without the general parser. */
const FAST_TIMESTAMP = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.\d{1,6})?)?)?(?:Z|[+-](\d\d)(?::?(\d\d))?)?$/;

/** Whether the fields of a FAST_TIMESTAMP match are in range, away from the ends of the span the one spelling holds. */
function isoFieldsPlain(m: RegExpExecArray): boolean {
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return y > 1 && y < 9999 && calendarDay(y, mo, d) && Number(m[4] ?? 0) < 24 && Number(m[5] ?? 0) < 60 && Number(m[6] ?? 0) < 60 && Number(m[7] ?? 0) <= 15 && Number(m[8] ?? 0) < 60;
}

/** Julian day of 1970-01-01; the span of PostgreSQL's timestamps and of the one spelling, in microseconds since the Unix epoch. */
const UNIX_EPOCH_J = 2440588;
const MIN_TIMESTAMP_US = BigInt(-UNIX_EPOCH_J) * 86_400_000_000n;
const END_TIMESTAMP_US = BigInt(109203528 - UNIX_EPOCH_J) * 86_400_000_000n;
/** 0001-01-01 and 10000-01-01, in microseconds since 2000 (parseUtcMicros). */
const FIRST_AD_US = BigInt(date2j(1, 1, 1) - 2451545) * 86_400_000_000n;
const YEAR_10000_US = BigInt(date2j(10000, 1, 1) - 2451545) * 86_400_000_000n;

/** What date-time input reads in this session: its zone, its DateStyle's order, the clock. */
const inputContext = (zone: Zone): InputContext => ({ zone, order: zone.dateOrder ?? 'MDY', now: Date.now() });

/**
 * Date input as PostgreSQL's date_in reads it ('2024-1-5', 'Jan 5 2024',
 * '1/5/2024' in the session's DateStyle, '2024-01-05 10:00' without its time;
 * 2024-02-30 refused, 22008), stored as PostgreSQL prints it (2024-01-05; an
 * era or a year past 9999 as PostgreSQL spells them): SQLite compares dates as
 * text, so one date has one spelling.
 */
function normaliseDate(s: string, zone: Zone): string {
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  if (m && Number(m[1]) >= 1 && calendarDay(Number(m[1]), Number(m[2]), Number(m[3]))) {
    return `${m[1]}-${m[2]!.padStart(2, '0')}-${m[3]!.padStart(2, '0')}`;
  }
  const r = readDateTime(s, 'date', inputContext(zone));
  if (r.special) return r.special === 'epoch' ? '1970-01-01' : r.special;
  // PostgreSQL's span: Julian day 0 (4714-11-24 BC) to 5874897-12-31
  const jd = validJulian(r.year, r.month) ? date2j(r.year, r.month, r.day) : -1;
  if (jd < 0 || jd >= END_JULIAN_DAY) throw outOfRange(s, 'date');
  return storedDate(r.year, r.month, r.day);
}

/**
 * Date-time text checked as the translator checks a constant it leaves for the
 * session to read (readsSession): refused only if no DateStyle reads it, with
 * the error of the default one.
 */
export function checkTimeInput(s: string, oid: number): void {
  let first: unknown;
  for (const dateOrder of ['MDY', 'DMY', 'YMD'] as const) {
    try {
      decodeTextParam(s, oid, { ...UTC_ZONE, dateOrder });
      return;
    } catch (e) {
      first ??= e;
    }
  }
  throw first;
}

export { readsSession } from './date-input.ts';

/** A decimal number as float8in and numeric_in read it (blanks around, an exponent). */
export const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;
export const FLOAT_WORDS: Record<string, number> = { infinity: Infinity, '+infinity': Infinity, '-infinity': -Infinity, inf: Infinity, '+inf': Infinity, '-inf': -Infinity };

/** Text into float8 (or float4), as float8in reads it; the value SQLite's CAST should make of it, or the text itself. */
export function checkFloatInput(s: string, bits: 4 | 8): string | number {
  const name = typeDisplayName(bits === 4 ? OID.float4 : OID.float8);
  const t = s.trim().toLowerCase();
  if (t === 'nan') throw unsupported('NaN (SQLite stores no NaN)');
  const word = FLOAT_WORDS[t];
  if (word !== undefined) return word;
  if (!DECIMAL.test(t)) throw new PgError('22P02', `invalid input syntax for type ${name}: "${s}"`);
  const n = Number(t);
  // PostgreSQL refuses what strtod reports as ERANGE: overflow, and underflow to zero
  if (!Number.isFinite(n) || (n === 0 && /[1-9]/.test(t.replace(/e.*$/, '')))) throw new PgError('22003', `"${s}" is out of range for type ${name}`);
  // float4in: past real's range, or a nonzero value that rounds to zero in it
  if (bits === 4 && (Math.abs(n) > 3.4028234663852886e38 || (n !== 0 && Math.fround(n) === 0))) throw new PgError('22003', `"${s}" is out of range for type ${name}`);
  return s;
}

export const STRING_TYPES: ReadonlySet<number> = new Set([OID.text, OID.varchar, OID.bpchar, OID.name]);
const NUMBER_TYPES: ReadonlySet<number> = new Set([OID.int2, OID.int4, OID.int8, OID.float4, OID.float8, OID.numeric]);
const DATETIME_TYPES: ReadonlySet<number> = new Set([OID.date, OID.timestamp, OID.timestamptz, OID.time]);
const JSON_TYPES: ReadonlySet<number> = new Set([OID.json, OID.jsonb]);

/**
 * Whether PostgreSQL stores a value of type `from` into a column of type `to`
 * (an implicit or assignment cast, pg_cast): anything into a string type, among
 * the numbers, among date and timestamps (time only from timestamps), json and
 * jsonb. Not a boolean into an integer, a string type into any other, a
 * timestamp into a number.
 */
export function assignable(from: number, to: number): boolean {
  if (from === to || STRING_TYPES.has(to)) return true;
  if (NUMBER_TYPES.has(from)) return NUMBER_TYPES.has(to);
  if (DATETIME_TYPES.has(from) && DATETIME_TYPES.has(to)) return from !== OID.time && !(to === OID.time && from === OID.date);
  if (JSON_TYPES.has(from)) return JSON_TYPES.has(to);
  return false;
}

/** A value as PostgreSQL's cast of its type to text writes it (boolean: true/false, not the wire's t/f). */
export function castToText(v: SqlValue, oid: number, typmod = -1, zone: Zone = UTC_ZONE): string | null {
  if (v === null) return null;
  const b = oid === OID.bool ? asBool(v) : null;
  return b !== null ? (b ? 'true' : 'false') : encodeText(v, oid, typmod, zone);
}

/** PostgreSQL's built-in array types (pg_type.typarray of the scalars): what a driver declares for an array parameter. */
const ARRAY_OIDS: ReadonlySet<number> = new Set([
  143, 199, 651, 791, 1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, 1016, 1017,
  1018, 1019, 1020, 1021, 1022, 1027, 1028, 1034, 1040, 1041, 1115, 1182, 1183, 1185, 1187, 1231, 1263, 1270, 1561, 1563,
  2201, 2287, 2951, 3643, 3645, 3807,
]);

/**
 * A numeric SQLite keeps as written: an integer within 64 bits (INTEGER), or
 * a decimal whose nearest double reads back as the same decimal (REAL). Else
 * SQLite holds another number: the new database got another rounding of it,
 * or refused it (99999999999999.999999 became 1e14, too wide for
 * numeric(20,6)), where PostgreSQL keeps every digit. Refused instead of
 * changed.
 */
export function keptWhole(s: string): string {
  if (keepsWhole(s)) return s;
  throw new PgError('22003', `numeric value ${s.trim()} cannot be kept exactly by the SQLite source (${canonicalDecimal(s)!.digits.length} significant digits; SQLite holds numbers as 64-bit integers or doubles)`, undefined, 'round it to 15 significant digits, or keep it in a text column');
}

/** keptWhole without the error: whether SQLite holds this decimal as written. */
export function keepsWhole(s: string): boolean {
  const p = canonicalDecimal(s);
  if (!p) return true;
  if (p.point >= p.digits.length && p.point <= 19) {
    const whole = BigInt(p.digits.padEnd(p.point, '0') || '0');
    if (whole <= (p.negative ? 9223372036854775808n : 9223372036854775807n)) return true;
  }
  const n = Number(s.trim());
  const back = Number.isFinite(n) ? canonicalDecimal(String(Math.abs(n))) : null;
  return !!back && back.digits === p.digits && back.point === p.point;
}

/** Below 2^53 every integer is a double: the numbers SQLite holds are then all doubles, in one order with their decimals. */
const EXACT_DOUBLES = 2 ** 53;

/**
 * Whether a comparison with a decimal SQLite cannot hold (keepsWhole false)
 * can be made exact with decimalBound: its nearest double is below 2^53 in
 * magnitude, where the integers SQLite holds are doubles too.
 */
export const boundable = (s: string): boolean => Math.abs(Number(s.trim())) < EXACT_DOUBLES;

/**
 * What a column compared with the decimal `s` (one SQLite cannot hold, and
 * boundable) is compared with instead, so that SQLite's comparison of doubles
 * answers as PostgreSQL's exact one does. A numeric or integer column holds
 * values that read as the shortest decimals of doubles (keptWhole), none of
 * them `s`: `above` is the least such value greater than `s` (col < s is
 * col < above, col >= s is col >= above), `below` the greatest one less than
 * it (col <= s is col <= below, col > s is col > below); col = s is then
 * col >= above AND col <= below, never true. A float column compares with
 * the double nearest `s`, as PostgreSQL converts the constant to float8.
 */
export function decimalBound(s: string, side: 'above' | 'below', float: boolean): number {
  const d = Number(s.trim());
  if (float) {
    // numeric → float8 as PostgreSQL converts it: past the double's range either way is refused, printed as numeric_out prints it
    if (!Number.isFinite(d) || (d === 0 && canonicalDecimal(s)!.digits)) throw new PgError('22003', `"${fixedDecimal(s)}" is out of range for type double precision`);
    return d;
  }
  // the value a column holding d reads as is d's shortest decimal, the one PostgreSQL compares
  const dAbove = compareDecimals(String(d), s) > 0;
  if (side === 'above') return dAbove ? d : nextDouble(d, 1);
  return dAbove ? nextDouble(d, -1) : d;
}

/** A decimal as numeric_out prints it: no exponent, the scale it was written with (1.50e-3 is 0.00150). */
function fixedDecimal(s: string): string {
  const m = /^\s*([+-]?)(\d*)\.?(\d*)(?:e([+-]?\d+))?\s*$/i.exec(s)!;
  const exp = Number(m[4] ?? 0);
  const scale = Math.max(0, (m[3] ?? '').length - exp);
  let digits = (m[2] ?? '') + (m[3] ?? '');
  // the point sits `point` digits in; pad so that it falls inside with `scale` digits after it
  let point = (m[2] ?? '').length + exp;
  if (point < 1) {
    digits = '0'.repeat(1 - point) + digits;
    point = 1;
  }
  digits = digits.padEnd(point + scale, '0').slice(0, point + scale);
  const whole = digits.slice(0, point).replace(/^0+(?=\d)/, '');
  const text = scale ? `${whole}.${digits.slice(point)}` : whole;
  return m[1] === '-' && /[1-9]/.test(text) ? `-${text}` : text;
}

/** The adjacent double upwards (1) or downwards (-1). */
function nextDouble(x: number, dir: 1 | -1): number {
  if (x === 0) return dir * Number.MIN_VALUE;
  const f = new Float64Array([x]);
  const bits = new BigInt64Array(f.buffer);
  bits[0]! += (x > 0) === (dir > 0) ? 1n : -1n;
  return f[0]!;
}

/** Two decimals' exact order: negative, zero or positive. */
function compareDecimals(a: string, b: string): number {
  const [x, y] = [canonicalDecimal(a)!, canonicalDecimal(b)!];
  const sign = (p: typeof x) => (p.digits ? (p.negative ? -1 : 1) : 0);
  if (sign(x) !== sign(y)) return sign(x) - sign(y);
  if (!sign(x)) return 0;
  let m = x.point - y.point;
  if (!m) {
    const n = Math.max(x.digits.length, y.digits.length);
    const [dx, dy] = [x.digits.padEnd(n, '0'), y.digits.padEnd(n, '0')];
    m = dx < dy ? -1 : dx > dy ? 1 : 0;
  }
  return sign(x) * Math.sign(m);
}

/** A decimal's significant digits (no leading or trailing zeros) and where its point falls among them. */
function canonicalDecimal(s: string): { negative: boolean; digits: string; point: number } | null {
  const p = decimalParts(s);
  if (!p) return null;
  const lead = p.digits.length - p.digits.replace(/^0+/, '').length;
  const digits = p.digits.slice(lead).replace(/0+$/, '');
  return { negative: p.negative, digits, point: digits ? p.point - lead : 0 };
}

/** A text-format parameter → the value bound in SQLite. */
export function decodeTextParam(s: string, oid: number, zone: Zone = UTC_ZONE): SqlValue {
  switch (oid) {
    case OID.int2:
    case OID.int4:
    case OID.int8:
    case OID.oid:
      return parseIntInput(s, oid);
    case OID.float4:
    case OID.float8: {
      // as float8in/float4in read it: SQLite would store NaN as NULL, and keep 1e400 as Infinity
      const v = checkFloatInput(s, oid === OID.float4 ? 4 : 8);
      return typeof v === 'number' ? v : Number(v.trim());
    }
    case OID.bool: {
      const b = asBool(s);
      if (b === null) throw new PgError('22P02', `invalid input syntax for type boolean: "${s}"`);
      return b ? 1n : 0n;
    }
    case OID.bytea:
      return decodeBytea(s);
    case OID.timestamp:
      return normaliseTimestamp(s, false, zone);
    case OID.timestamptz:
      return normaliseTimestamp(s, true, zone);
    case OID.date:
      return normaliseDate(s, zone);
    case OID.uuid: {
      // PostgreSQL's input forms: any case, braces, hyphens after any group of four; stored in its output form
      const hex = s.trim().replace(/^\{(.*)\}$/, '$1').replace(/-/g, '');
      if (!/^[0-9a-f]{32}$/i.test(hex)) throw new PgError('22P02', `invalid input syntax for type uuid: "${s}"`);
      const h = hex.toLowerCase();
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
    case OID.numeric:
      // kept as written (SQLite's NUMERIC affinity reads it), but only a number: SQLite would keep any text
      if (!DECIMAL.test(s) && !/^\s*[+-]?(nan|inf|infinity)\s*$/i.test(s)) throw new PgError('22P02', `invalid input syntax for type numeric: "${s}"`);
      return keptWhole(s);
    case 0:
    case OID.unknown:
      // an untyped integer literal binds as INTEGER: text affinity turns it back into the same text
      return CANONICAL_INT.test(s) && BigInt(s) <= 9223372036854775807n && BigInt(s) >= -9223372036854775808n ? BigInt(s) : s;
    default:
      // an array bound as its text ('{1,2,3}') would be stored or echoed as a string: refused as array
      // types in the text are (translate.ts), not answered with another type
      if (ARRAY_OIDS.has(oid)) throw unsupported('array types');
      return s;
  }
}

const badBinary = (b: Buffer, oid: number): PgError =>
  new PgError('22P03', `incorrect binary data format in bind parameter (type oid ${oid}, ${b.length} bytes)`);

/** numeric's binary form (numericBinary's layout) as decimal text, to its display scale. */
export function numericText(b: Buffer): string {
  const bad = () => badBinary(b, OID.numeric);
  if (b.length < 8) throw bad();
  const n = b.readInt16BE(0);
  const weight = b.readInt16BE(2);
  const sign = b.readUInt16BE(4);
  const dscale = b.readInt16BE(6);
  if (n < 0 || dscale < 0 || b.length !== 8 + n * 2) throw bad();
  if (sign === 0xc000) return 'NaN';
  if (sign === 0xd000) return 'Infinity';
  if (sign === 0xf000) return '-Infinity';
  if (sign !== 0 && sign !== 0x4000) throw bad();
  const digit = (i: number) => {
    if (i < 0 || i >= n) return 0;
    const d = b.readInt16BE(8 + i * 2);
    if (d < 0 || d > 9999) throw bad();
    return d;
  };
  // digit i stands for 10000^(weight - i)
  let whole = '';
  for (let i = 0; i <= weight; i++) whole += i === 0 ? String(digit(i)) : String(digit(i)).padStart(4, '0');
  let fraction = '';
  for (let i = weight + 1; fraction.length < dscale; i++) fraction += String(digit(i)).padStart(4, '0');
  const text = (whole || '0') + (dscale > 0 ? '.' + fraction.slice(0, dscale) : '');
  return sign === 0x4000 && /[1-9]/.test(text) ? '-' + text : text;
}

function uuidText(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A binary-format parameter → the value bound in SQLite. */
export function decodeBinaryParam(b: Buffer, oid: number): SqlValue {
  const need = (n: number) => {
    if (b.length !== n) throw badBinary(b, oid);
  };
  switch (oid) {
    case OID.bool:
      need(1);
      return b[0] ? 1n : 0n;
    case OID.int2:
      need(2);
      return BigInt(b.readInt16BE(0));
    case OID.int4:
    case OID.oid:
      need(4);
      return BigInt(b.readInt32BE(0));
    case OID.int8:
      need(8);
      return b.readBigInt64BE(0);
    case OID.float4:
      need(4);
      return b.readFloatBE(0);
    case OID.float8:
      need(8);
      return b.readDoubleBE(0);
    case OID.bytea:
    case 0:
      return Buffer.from(b);
    case OID.text:
    case OID.varchar:
    case OID.bpchar:
    case OID.name:
    case OID.json:
    case OID.unknown:
      return textInput(b);
    case OID.jsonb:
      return textInput(b.subarray(1));
    case OID.uuid:
      need(16);
      return uuidText(b);
    case OID.numeric:
      // asyncpg sends numeric in binary: bound as its decimal text, as the text form is
      return keptWhole(numericText(b));
    case OID.date: {
      need(4);
      return new Date(PG_EPOCH_MS + b.readInt32BE(0) * 86_400_000).toISOString().slice(0, 10);
    }
    case OID.timestamp:
    case OID.timestamptz: {
      need(8);
      return microsText(b.readBigInt64BE(0));
    }
    default:
      throw new PgError('0A000', `binary input format for type oid ${oid} is not supported by the SQLite source; send the parameter as text`);
  }
}
