// PostgreSQL values, as to_json wrote them in a captured row, turned back
// into what the SQLite file stores for the column (its PostgreSQL type as
// backfill mapped it): the inverse of capture/sqlite-capture.ts' text forms,
// so that verify compares the file and PostgreSQL bit-exactly.
//   bigint         JSON number → INTEGER, from the digits (exact past 2^53)
//   float8         JSON number → REAL (shortest round-trip text: exact); 'Infinity' strings too
//   numeric        its text, bound as text: the column's NUMERIC affinity stores it
//                  as SQLite would have stored the application's own value
//   boolean        true/false → 1/0
//   bytea          '\x…' → BLOB
//   timestamp      'YYYY-MM-DDTHH:MM:SS.ffffff' → 'YYYY-MM-DD HH:MM:SS.ffffff' (PostgreSQL's text form)
//   timestamptz    → UTC in that form, no zone: what the SQLite engine's now() writes
//   json/jsonb     the JSON text itself (in a row carrying text forms, pg-capture.ts' TEXT_MARKER: the string's content)
//   anything else  the string (or the value's JSON text)
import type { RawValue } from './json-scan.ts';

export type SqliteValue = null | bigint | number | string | Buffer;

export class ValueError extends Error {}

export function toSqliteValue(v: RawValue | undefined, pgType: string, textForms = false): SqliteValue {
  if (!v || v.kind === 'null') return null;
  const t = pgType.toLowerCase();
  if (textForms && (t === 'json' || t === 'jsonb') && v.kind === 'string') return str(v);
  if (t === 'bigint' || t === 'integer' || t === 'smallint') {
    if (v.kind === 'number' && /^-?\d+$/.test(v.raw)) return BigInt(v.raw);
    throw new ValueError(`not an integer for ${pgType}: ${v.raw}`);
  }
  if (t === 'double precision' || t === 'real') {
    if (v.kind === 'number') return Number(v.raw);
    if (v.kind === 'string') return Number(str(v)); // 'Infinity', '-Infinity', 'NaN' (NaN is stored as NULL by SQLite)
    throw new ValueError(`not a number for ${pgType}: ${v.raw}`);
  }
  if (t.startsWith('numeric') || t.startsWith('decimal')) return v.kind === 'string' ? str(v) : v.raw;
  if (t === 'boolean') {
    if (v.kind === 'true') return 1n;
    if (v.kind === 'false') return 0n;
    throw new ValueError(`not a boolean: ${v.raw}`);
  }
  if (t === 'bytea') {
    const s = str(v);
    if (!s.startsWith('\\x')) throw new ValueError(`bytea not in hex form: ${s.slice(0, 20)}`);
    return Buffer.from(s.slice(2), 'hex');
  }
  if (t === 'timestamp' || t.startsWith('timestamp without')) return str(v).replace('T', ' ');
  if (t === 'timestamptz' || t.startsWith('timestamp with time zone')) return utcText(str(v));
  if (t === 'json' || t === 'jsonb') return v.raw;
  if (v.kind === 'string') return str(v);
  return v.raw;
}

const str = (v: RawValue): string => {
  if (v.kind !== 'string') return v.raw;
  // no escapes: the common case, without JSON.parse
  return v.raw.includes('\\') ? (JSON.parse(v.raw) as string) : v.raw.slice(1, -1);
};

const TZ = /^(\d{4,}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2})(?::?(\d{2}))?(?::?(\d{2}))?$/;

/**
 * Years BC are moved by this much (400-year cycles, after which the Gregorian
 * calendar repeats, leap days and all) into years Date reads as four digits.
 */
const ERA_SHIFT = 4800;

/**
 * '2024-01-01T12:00:00.5+02:00' → '2024-01-01 10:00:00.5' (microseconds kept;
 * infinity as is). A year before the common era, as to_json writes it
 * ('0044-03-15T10:00:00+02:00 BC'), is brought to UTC the same way in the
 * proleptic calendar and keeps its era: '0044-03-15 08:00:00 BC', the form
 * PostgreSQL prints and verify compares, where it kept the writer's offset.
 */
export function utcText(s: string): string {
  const bc = / BC$/.exec(s);
  const m = TZ.exec(bc ? s.slice(0, bc.index) : s);
  if (!m) return s.replace('T', ' ');
  const [, date, time, frac = '', hh, mm = '00', ss = '00'] = m;
  const sign = hh!.startsWith('-') ? -1 : 1;
  const offsetMs = sign * ((Math.abs(Number(hh)) * 60 + Number(mm)) * 60 + Number(ss)) * 1000;
  // year n BC is year 1 - n in astronomical numbering, where the arithmetic holds
  const year = bc ? 1 - Number(date!.slice(0, -6)) + ERA_SHIFT : Number(date!.slice(0, -6));
  const shifted = `${String(year).padStart(4, '0')}${date!.slice(-6)}`;
  const utc = new Date(Date.parse(`${shifted}T${time}Z`) - offsetMs).toISOString();
  if (!bc) return `${utc.slice(0, 10)} ${utc.slice(11, 19)}${frac}`;
  const y = Number(utc.slice(0, 4)) - ERA_SHIFT;
  const era = y >= 1 ? String(y).padStart(4, '0') : String(1 - y).padStart(4, '0');
  return `${era}${utc.slice(4, 10)} ${utc.slice(11, 19)}${frac}${y >= 1 ? '' : ' BC'}`;
}
