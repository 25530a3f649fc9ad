// date_trunc, date_part and EXTRACT on an SQLite source, as PostgreSQL
// computes them: on the wall clock of the session's zone for a timestamptz
// (the file holds UTC), on the value itself for a timestamp or a date. The
// value arrives with its declared type (translate.ts).
import { PgError } from './errors.ts';
import { OID, castTime, type SqlValue } from './types.ts';
import { UTC_ZONE, type Zone } from './time-zone.ts';

const TYPE_NAME: Record<number, string> = { [OID.timestamp]: 'timestamp without time zone', [OID.timestamptz]: 'timestamp with time zone', [OID.date]: 'date' };

/** A date and time of day as fields (a wall clock's reading; year 0 is 1 BC). */
export interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  micros: number;
}

const WALL = /^(\d{4,})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?$/;

function wallOf(text: string): Wall | null {
  const m = WALL.exec(text);
  if (!m) return null;
  return { year: +m[1]!, month: +m[2]!, day: +m[3]!, hour: +(m[4] ?? 0), minute: +(m[5] ?? 0), second: +(m[6] ?? 0), micros: Number((m[7] ?? '').padEnd(6, '0')) };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function wallText(w: Wall): string {
  const frac = w.micros ? '.' + pad(w.micros, 6).replace(/0+$/, '') : '';
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}${frac}`;
}

const dayMs = (w: Wall) => {
  const d = new Date(0);
  d.setUTCFullYear(w.year, w.month - 1, w.day);
  return d.getTime();
};

/** The value as local wall-clock fields, and its type; null when it is no date-time (left as it is). */
function wallValue(v: SqlValue, declared: number | undefined, zone: Zone): { wall: Wall; type: number } | null {
  const type = declared === OID.timestamp || declared === OID.date ? declared : OID.timestamptz;
  const local = castTime(v, type, type === OID.date ? OID.date : OID.timestamp, zone);
  const wall = typeof local === 'string' ? wallOf(local) : null;
  return wall ? { wall, type } : null;
}

/** Units of date_trunc that end at midnight. */
const WHOLE_DAYS = new Set(['millennium', 'millennia', 'century', 'centuries', 'decade', 'decades', 'year', 'years', 'quarter', 'month', 'months', 'week', 'weeks', 'day', 'days']);

const unknownUnit = (unit: string, type: number) => new PgError('22023', `unit "${unit}" not recognized for type ${TYPE_NAME[type]}`);

/** date_trunc(unit, v): a timestamp for a timestamp, else a timestamptz (a date is one at local midnight). */
export function dateTrunc(unit: string, v: SqlValue, declared: number | undefined, zone: Zone): SqlValue {
  if (v === null) return null;
  const at = wallValue(v, declared, zone);
  if (!at) return v;
  const w = { ...at.wall };
  const u = unit.toLowerCase();
  const floorTo = (step: number, from = 0) => Math.floor((w.year - from) / step) * step + from;
  switch (u) {
    case 'millennium': case 'millennia':
      w.year = w.year > 0 ? floorTo(1000, 1) : w.year; w.month = 1; w.day = 1;
      break;
    case 'century': case 'centuries':
      w.year = w.year > 0 ? floorTo(100, 1) : w.year; w.month = 1; w.day = 1;
      break;
    case 'decade': case 'decades':
      w.year = floorTo(10); w.month = 1; w.day = 1;
      break;
    case 'year': case 'years':
      w.month = 1; w.day = 1;
      break;
    case 'quarter':
      w.month = Math.floor((w.month - 1) / 3) * 3 + 1; w.day = 1;
      break;
    case 'month': case 'months':
      w.day = 1;
      break;
    case 'week': case 'weeks': {
      // back to Monday
      const d = new Date(dayMs(w) - ((new Date(dayMs(w)).getUTCDay() + 6) % 7) * 86_400_000);
      [w.year, w.month, w.day] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
      break;
    }
    case 'day': case 'days':
      break;
    case 'hour': case 'hours':
      w.minute = 0; w.second = 0; w.micros = 0;
      break;
    case 'minute': case 'minutes':
      w.second = 0; w.micros = 0;
      break;
    case 'second': case 'seconds':
      w.micros = 0;
      break;
    case 'milliseconds': case 'millisecond':
      w.micros = Math.floor(w.micros / 1000) * 1000;
      break;
    case 'microseconds': case 'microsecond':
      break;
    default:
      throw unknownUnit(unit, at.type === OID.timestamp ? OID.timestamp : OID.timestamptz);
  }
  if (WHOLE_DAYS.has(u)) {
    w.hour = 0; w.minute = 0; w.second = 0; w.micros = 0;
  }
  const text = wallText(w);
  return at.type === OID.timestamp ? text : castTime(text, OID.timestamp, OID.timestamptz, zone);
}

/** date_part(unit, v) (a float8) and EXTRACT(unit FROM v) (a numeric, as its text: PostgreSQL's scale). */
export function datePart(unit: string, v: SqlValue, declared: number | undefined, zone: Zone, numeric: boolean): SqlValue {
  if (v === null) return null;
  const at = wallValue(v, declared, zone);
  if (!at) return v;
  const { wall: w, type } = at;
  const u = unit.toLowerCase();
  const ms = dayMs(w);
  const dow = new Date(ms).getUTCDay();
  const isoWeek = () => {
    // the Thursday of this ISO week decides its year
    const thursday = new Date(ms + (3 - ((dow + 6) % 7)) * 86_400_000);
    const jan1 = Date.UTC(thursday.getUTCFullYear(), 0, 1);
    return { year: thursday.getUTCFullYear(), week: Math.floor((thursday.getTime() - jan1) / 86_400_000 / 7) + 1 };
  };
  const seconds = w.second + w.micros / 1e6;
  const timeUnit = ['hour', 'minute', 'second', 'milliseconds', 'microseconds', 'timezone', 'timezone_hour', 'timezone_minute'].includes(u);
  if (type === OID.date && timeUnit) throw new PgError('0A000', `unit "${unit}" not supported for type date`);
  let value: number;
  let scale = 0;
  switch (u) {
    case 'year': value = w.year; break;
    case 'month': value = w.month; break;
    case 'day': value = w.day; break;
    case 'hour': value = w.hour; break;
    case 'minute': value = w.minute; break;
    case 'second': value = seconds; scale = 6; break;
    case 'milliseconds': value = seconds * 1000; scale = 3; break;
    case 'microseconds': value = w.second * 1e6 + w.micros; break;
    case 'quarter': value = Math.floor((w.month - 1) / 3) + 1; break;
    case 'dow': value = dow; break;
    case 'isodow': value = dow === 0 ? 7 : dow; break;
    case 'doy': value = Math.round((ms - Date.UTC(w.year, 0, 1)) / 86_400_000) + 1; break;
    case 'week': value = isoWeek().week; break;
    case 'isoyear': value = isoWeek().year; break;
    case 'decade': value = Math.floor(w.year / 10); break;
    case 'century': value = w.year > 0 ? Math.floor((w.year + 99) / 100) : -Math.floor((99 - (w.year - 1)) / 100); break;
    case 'millennium': value = w.year > 0 ? Math.floor((w.year + 999) / 1000) : -Math.floor((999 - (w.year - 1)) / 1000); break;
    case 'epoch':
      value = Number(epochMicros(v, w, type)) / 1e6;
      if (type !== OID.date) scale = 6;
      break;
    case 'timezone': case 'timezone_hour': case 'timezone_minute': {
      if (type !== OID.timestamptz) throw new PgError('0A000', `unit "${unit}" not supported for type ${TYPE_NAME[type]}`);
      const offset = zone.offsetAt(Number(epochMicros(v, w, type) / 1000n));
      value = u === 'timezone' ? offset : u === 'timezone_hour' ? Math.trunc(offset / 3600) : Math.trunc((offset % 3600) / 60);
      break;
    }
    default:
      throw unknownUnit(unit, type);
  }
  if (!numeric) return value;
  if (!scale) return String(Math.round(value));
  // exact decimal text from integer microseconds, never through a float's rounding
  const micros = u === 'epoch' ? epochMicros(v, w, type) : BigInt(w.second) * 1_000_000n + BigInt(w.micros);
  const unitMicros = u === 'milliseconds' ? 1000n : 1_000_000n;
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  return `${negative ? '-' : ''}${abs / unitMicros}.${pad(Number(abs % unitMicros), scale)}`;
}

/** Microseconds since 1970-01-01: a timestamptz's instant, a timestamp's or date's wall clock read as UTC (as PostgreSQL reads it). */
function epochMicros(v: SqlValue, w: Wall, type: number): bigint {
  const utc = type === OID.timestamptz ? wallOf(String(castTime(v, OID.timestamptz, OID.timestamp, UTC_ZONE))) ?? w : w;
  return BigInt(dayMs(utc) / 1000 + utc.hour * 3600 + utc.minute * 60 + utc.second) * 1_000_000n + BigInt(utc.micros);
}
