// Date and timestamp input as PostgreSQL 15 reads it (date_in, timestamp_in,
// timestamptz_in: ParseDateTime and DecodeDateTime in its datetime.c), for the
// SQLite source: ISO 'YYYY-MM-DD', 'YYYYMMDD', 'Jan 5 2024', 'January 5, 2024',
// '5 Jan 2024', '1/5/2024' in the session's DateStyle field order, a time and a
// zone after the date (dropped for a date), 'epoch', 'infinity', 'today' …; the
// rest refused with PostgreSQL's SQLSTATE and words. Without it a date written
// in another spelling was stored as written: SQLite compares dates as text, so
// 'Jan 5 2024' then missed `WHERE d = '2024-01-05'`.
//
// readDateTime gives the fields; types.ts turns them into the text the proxy
// stores (common/timestamp-text.ts).
import { PgError } from './errors.ts';
import { fixedZone, UTC_ZONE, zoneNamed, type DateOrder, type Zone } from './time-zone.ts';
import { ZONE_ABBREVIATIONS } from './zone-abbreviations.ts';
import type { Wall } from './date-fields.ts';

/** What date-time input names: a special value, or the fields (year 0 is 1 BC) with the zone it was written in, if any. */
export type DateTimeInput =
  | { special: 'infinity' | '-infinity' | 'epoch' }
  | (Wall & {
      special?: undefined;
      /** Seconds east of UTC, when the input gave an offset or an abbreviation ('+05', 'PST'). */
      offset?: number;
      /** A zone the input named ('Europe/Paris'): its offset at that local time applies. */
      zone?: Zone;
    });

export type DateTimeType = 'date' | 'timestamp' | 'timestamptz';

const TYPE_NAME: Record<DateTimeType, string> = { date: 'date', timestamp: 'timestamp', timestamptz: 'timestamp with time zone' };

// ---------- errors, as DateTimeParseError words them ----------

/** The kinds of failure PostgreSQL tells apart; worded with the whole input once it is known. */
class Refused {
  constructor(readonly kind: 'format' | 'field' | 'order' | 'offset' | 'zone', readonly zone?: string) {}
}
const BAD = new Refused('format');
const FIELD = new Refused('field');
/** A month or a day out of range: another DateStyle might have read it. */
const ORDER = new Refused('order');
const OFFSET = new Refused('offset');

function refusal(r: Refused, s: string, type: DateTimeType): PgError {
  switch (r.kind) {
    case 'field':
      return new PgError('22008', `date/time field value out of range: "${s}"`);
    case 'order':
      return new PgError('22008', `date/time field value out of range: "${s}"`, undefined, 'Perhaps you need a different "datestyle" setting.');
    case 'offset':
      return new PgError('22009', `time zone displacement out of range: "${s}"`);
    case 'zone':
      return new PgError('22023', `time zone "${r.zone}" not recognized`);
    default:
      return new PgError('22007', `invalid input syntax for type ${TYPE_NAME[type]}: "${s}"`);
  }
}

/** 'date out of range' / 'timestamp out of range', as the input functions word a value past their type's span. */
export const outOfRange = (s: string, type: DateTimeType): PgError => new PgError('22008', `${type === 'date' ? 'date' : 'timestamp'} out of range: "${s}"`);

// ---------- tokens ----------

type FieldType = 'number' | 'date' | 'time' | 'string' | 'special' | 'tz';
interface Field {
  text: string;
  type: FieldType;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlpha = (c: string | undefined): boolean => c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
const isAlnum = (c: string | undefined): boolean => isDigit(c) || isAlpha(c);
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';
const isPunct = (c: string | undefined): boolean => c !== undefined && c.length === 1 && c > ' ' && c < '\x7f' && !isAlnum(c);

/** The most fields PostgreSQL reads (MAXDATEFIELDS), and its work buffers' sizes (date_in's, the timestamps'). */
const MAX_FIELDS = 25;
const BUFFER: Record<DateTimeType, number> = { date: 129, timestamp: 153, timestamptz: 153 };

/** The input split into fields as ParseDateTime splits it: lower-cased, punctuation between fields dropped. */
function tokenize(s: string, bufLen: number): Field[] {
  const fields: Field[] = [];
  let used = 0;
  let i = 0;
  while (i < s.length) {
    if (isSpace(s[i])) {
      i++;
      continue;
    }
    if (fields.length >= MAX_FIELDS) throw BAD;
    let text = '';
    let type: FieldType;
    const take = (): void => {
      if (used + 1 >= bufLen) throw BAD;
      used++;
      text += s[i++]!.toLowerCase();
    };
    if (isDigit(s[i])) {
      while (isDigit(s[i])) take();
      if (s[i] === ':') {
        type = 'time';
        take();
        while (isDigit(s[i]) || s[i] === ':' || s[i] === '.') take();
      } else if (s[i] === '-' || s[i] === '/' || s[i] === '.') {
        const delim = s[i];
        take();
        if (isDigit(s[i])) {
          type = delim === '.' ? 'number' : 'date';
          while (isDigit(s[i])) take();
          // three fields only with the same delimiter twice
          if (s[i] === delim) {
            type = 'date';
            take();
            while (isDigit(s[i]) || s[i] === delim) take();
          }
        } else {
          type = 'date'; // a month name inside ('5-Jan-2024')
          while (isAlnum(s[i]) || s[i] === delim) take();
        }
      } else type = 'number';
    } else if (s[i] === '.') {
      take();
      while (isDigit(s[i])) take();
      type = 'number';
    } else if (isAlpha(s[i])) {
      type = 'string';
      while (isAlpha(s[i])) take();
      // a date with a month name ('Jan-05-2024'), or a zone name ('America/New_York', 'EST5EDT', 'GMT+5'),
      // unless the word is one of the keywords ('t10:00', 'j2460315')
      const c = s[i];
      if (c === '-' || c === '/' || c === '.' || ((c === '+' || isDigit(c)) && !KEYWORDS.has(text))) {
        type = 'date';
        do take();
        while (s[i] === '+' || s[i] === '-' || s[i] === '/' || s[i] === '_' || s[i] === '.' || s[i] === ':' || isAlnum(s[i]));
      }
    } else if (s[i] === '+' || s[i] === '-') {
      take();
      while (isSpace(s[i])) i++;
      if (isDigit(s[i])) {
        type = 'tz';
        while (isDigit(s[i]) || s[i] === ':' || s[i] === '.' || s[i] === '-') take();
      } else if (isAlpha(s[i])) {
        type = 'special';
        while (isAlpha(s[i])) take();
      } else throw BAD;
    } else if (isPunct(s[i])) {
      i++;
      continue;
    } else throw BAD;
    used++; // the field's terminator
    fields.push({ text, type });
  }
  return fields;
}

// ---------- keywords ----------

type Keyword =
  | { kind: 'reserved'; value: 'early' | 'late' | 'epoch' | 'now' | 'today' | 'tomorrow' | 'yesterday' | 'zulu' }
  | { kind: 'month'; value: number }
  | { kind: 'dow' | 'ignore' | 'dst' }
  | { kind: 'ampm'; value: 'am' | 'pm' }
  | { kind: 'era'; value: 'ad' | 'bc' }
  | { kind: 'unit'; value: Unit }
  | { kind: 'isotime' };
type Unit = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'julian' | 'other';

const MONTHS = [['jan', 'january'], ['feb', 'february'], ['mar', 'march'], ['apr', 'april'], ['may'], ['jun', 'june'], ['jul', 'july'], ['aug', 'august'], ['sep', 'sept', 'september'], ['oct', 'october'], ['nov', 'november'], ['dec', 'december']];
const DAYS = ['sun', 'sunday', 'mon', 'monday', 'tue', 'tues', 'tuesday', 'wed', 'weds', 'wednesday', 'thu', 'thur', 'thurs', 'thursday', 'fri', 'friday', 'sat', 'saturday'];

/** PostgreSQL 15's date-time keywords (datetktbl). */
const KEYWORDS: ReadonlyMap<string, Keyword> = new Map<string, Keyword>([
  ...MONTHS.flatMap((names, i) => names.map((n): [string, Keyword] => [n, { kind: 'month', value: i + 1 }])),
  ...DAYS.map((n): [string, Keyword] => [n, { kind: 'dow' }]),
  ['-infinity', { kind: 'reserved', value: 'early' }], ['infinity', { kind: 'reserved', value: 'late' }], ['epoch', { kind: 'reserved', value: 'epoch' }],
  ['now', { kind: 'reserved', value: 'now' }], ['today', { kind: 'reserved', value: 'today' }], ['tomorrow', { kind: 'reserved', value: 'tomorrow' }],
  ['yesterday', { kind: 'reserved', value: 'yesterday' }], ['allballs', { kind: 'reserved', value: 'zulu' }],
  ['ad', { kind: 'era', value: 'ad' }], ['bc', { kind: 'era', value: 'bc' }], ['am', { kind: 'ampm', value: 'am' }], ['pm', { kind: 'ampm', value: 'pm' }],
  ['at', { kind: 'ignore' }], ['on', { kind: 'ignore' }], ['dst', { kind: 'dst' }], ['t', { kind: 'isotime' }],
  ['y', { kind: 'unit', value: 'year' }], ['m', { kind: 'unit', value: 'month' }], ['d', { kind: 'unit', value: 'day' }], ['h', { kind: 'unit', value: 'hour' }],
  ['mm', { kind: 'unit', value: 'minute' }], ['s', { kind: 'unit', value: 'second' }], ['j', { kind: 'unit', value: 'julian' }], ['jd', { kind: 'unit', value: 'julian' }],
  ['julian', { kind: 'unit', value: 'julian' }], ['dow', { kind: 'unit', value: 'other' }], ['doy', { kind: 'unit', value: 'other' }],
  ['isodow', { kind: 'unit', value: 'other' }], ['isoyear', { kind: 'unit', value: 'other' }],
]);

/** The daylight-time abbreviations of PostgreSQL's Default set (a 'DST' after one of them is refused). */
const DAYLIGHT = new Set(('akdt brst cdt clst edt egst fnst mdt ndt pdt pmdt pyst uyst wgst almst idt kdt kgst pkst ulast uzst yekst adt azost acsst '
  + 'acdt aesst aedt awsst cadt sadt wadt wdt bst bdst cest cetdst eest eetdst mest mesz metdst msd wetdst must chadt fjst nzdt').split(' '));

// ---------- field masks ----------

const YEAR = 1 << 0, MONTH = 1 << 1, DAY = 1 << 2, HOUR = 1 << 3, MINUTE = 1 << 4, SECOND = 1 << 5;
const TZ = 1 << 6, DTZ = 1 << 7, DTZMOD = 1 << 8, AMPM = 1 << 9, ADBC = 1 << 10, DOW = 1 << 11, DOY = 1 << 12, RESERV = 1 << 13;
const DATE_M = YEAR | MONTH | DAY;
const TIME_M = HOUR | MINUTE | SECOND;

interface Tm {
  year: number;
  mon: number;
  mday: number;
  hour: number;
  min: number;
  sec: number;
  fsec: number;
  yday: number;
}

// ---------- numbers ----------

const INT_MAX = 2147483647;

/** strtol's reading of leading digits as an int: the value and where it stopped; FIELD past an int. */
function strtoint(s: string, from = 0): { value: number; end: number } {
  let end = from;
  while (isDigit(s[end])) end++;
  const value = end > from ? Number(s.slice(from, end)) : 0;
  if (value > INT_MAX) throw FIELD;
  return { value, end };
}

/** rint(): to the nearest, halves to even, as PostgreSQL rounds a fraction to microseconds. */
function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** '.123' → microseconds (ParseFractionalSecond): digits only after the point. */
function fractionalSecond(s: string): number {
  if (s === '.') return 0;
  if (!/^\.\d+$/.test(s)) throw BAD;
  return rint(Number('0' + s) * 1_000_000);
}

// ---------- the calendar ----------

/** Julian day number of a date (year 0 is 1 BC), as PostgreSQL's date2j computes it. */
export function date2j(y: number, m: number, d: number): number {
  if (m > 2) {
    m += 1;
    y += 4800;
  } else {
    m += 13;
    y += 4799;
  }
  const century = Math.trunc(y / 100);
  let julian = y * 365 - 32167;
  julian += Math.trunc(y / 4) - century + Math.trunc(century / 4);
  julian += Math.trunc((7834 * m) / 256) + d;
  return julian;
}

/** Julian day of the day after PostgreSQL's last date (5874897-12-31); its first, 4714-11-24 BC, is day 0. */
export const END_JULIAN_DAY = 2147483494;

/** A date as PostgreSQL prints it (ISO) and the engine stores it: a year before the common era with its era, year 0 being 1 BC ('0044-03-15 BC'). */
export function storedDate(year: number, month: number, day: number): string {
  const text = `${String(year > 0 ? year : 1 - year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
  return year > 0 ? text : `${text} BC`;
}

/** The date of a Julian day number (j2date). */
export function j2date(jd: number): { year: number; month: number; day: number } {
  let julian = jd + 32044;
  let quad = Math.floor(julian / 146097);
  const extra = (julian - quad * 146097) * 4 + 3;
  julian += 60 + quad * 3 + Math.floor(extra / 146097);
  quad = Math.floor(julian / 1461);
  julian -= quad * 1461;
  let y = Math.floor((julian * 4) / 1461);
  julian = (y !== 0 ? (julian + 305) % 365 : (julian + 306) % 366) + 123;
  y += quad * 4;
  const q = Math.floor((julian * 2141) / 65536);
  return { year: y - 4800, month: ((q + 10) % 12) + 1, day: julian - Math.floor((7834 * q) / 256) };
}

const isLeap = (y: number): boolean => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const DAYS_IN = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysIn = (y: number, m: number): number => (m === 2 && isLeap(y) ? 29 : DAYS_IN[m - 1]!);

/** Whether the date is one PostgreSQL's Julian-day routines hold (IS_VALID_JULIAN). */
export const validJulian = (y: number, m: number): boolean => (y > -4713 || (y === -4713 && m >= 11)) && (y < 5874898 || (y === 5874898 && m < 6));

// ---------- the decoders ----------

interface State {
  tm: Tm;
  order: DateOrder;
  is2digits: boolean;
}

/** A concatenated date or time ('20240105', '100000', '1000.5'): the fields it set (DecodeNumberField). */
function numberField(str: string, fmask: number, st: State): number {
  if (!/^[0-9.]*$/.test(str)) throw BAD;
  const tm = st.tm;
  const point = str.indexOf('.');
  if (point >= 0) {
    tm.fsec = fractionalSecond(str.slice(point));
    str = str.slice(0, point);
  } else if ((fmask & DATE_M) !== DATE_M && str.length >= 6) {
    // from the end: two digits of day, two of month, the rest the year
    const len = str.length;
    tm.mday = Number(str.slice(len - 2));
    tm.mon = Number(str.slice(len - 4, len - 2));
    tm.year = Number(str.slice(0, len - 4));
    if (len - 4 === 2) st.is2digits = true;
    return DATE_M;
  }
  if ((fmask & TIME_M) !== TIME_M) {
    if (str.length === 6) {
      tm.hour = Number(str.slice(0, 2));
      tm.min = Number(str.slice(2, 4));
      tm.sec = Number(str.slice(4, 6));
      return TIME_M;
    }
    if (str.length === 4) {
      tm.hour = Number(str.slice(0, 2));
      tm.min = Number(str.slice(2, 4));
      tm.sec = 0;
      return TIME_M;
    }
  }
  throw BAD;
}

/** A plain number, read as the date field the ones before it and the DateStyle leave (DecodeNumber). */
function number(str: string, haveTextMonth: boolean, fmask: number, st: State): number {
  const tm = st.tm;
  const { value, end } = strtoint(str);
  if (end === 0) throw BAD;
  if (str[end] === '.') {
    // more than two digits before the point: a date or a run-together time ('2001.360', '040506.789')
    if (end > 2) {
      numberField(str, fmask | DATE_M, st);
      return 0;
    }
    tm.fsec = fractionalSecond(str.slice(end));
  } else if (end !== str.length) throw BAD;
  const flen = str.length;
  // a day of the year after the year ('2024 005')
  if (flen === 3 && (fmask & DATE_M) === YEAR && value >= 1 && value <= 366) {
    tm.yday = value;
    return DOY | MONTH | DAY;
  }
  let tmask: number;
  switch (fmask & DATE_M) {
    case 0:
      // the first: a year of three digits or more, else as the DateStyle orders the fields
      if (flen >= 3 || st.order === 'YMD') {
        tmask = YEAR;
        tm.year = value;
      } else if (st.order === 'DMY') {
        tmask = DAY;
        tm.mday = value;
      } else {
        tmask = MONTH;
        tm.mon = value;
      }
      break;
    case YEAR:
      tmask = MONTH;
      tm.mon = value;
      break;
    case MONTH:
      if (haveTextMonth) {
        // MON-DD-YYYY, DD-MON-YYYY, YYYY-MON-DD
        if (flen >= 3 || st.order === 'YMD') {
          tmask = YEAR;
          tm.year = value;
        } else {
          tmask = DAY;
          tm.mday = value;
        }
      } else {
        tmask = DAY;
        tm.mday = value;
      }
      break;
    case YEAR | MONTH:
      if (haveTextMonth && flen >= 3 && st.is2digits) {
        // DD-MON-YYYY read in YMD: the first number was the day
        tmask = DAY;
        tm.mday = tm.year;
        tm.year = value;
        st.is2digits = false;
      } else {
        tmask = DAY;
        tm.mday = value;
      }
      break;
    case DAY:
      tmask = MONTH;
      tm.mon = value;
      break;
    case MONTH | DAY:
      tmask = YEAR;
      tm.year = value;
      break;
    case DATE_M:
      // the date is complete: a time
      return numberField(str, fmask, st);
    default:
      throw BAD;
  }
  if (tmask === YEAR) st.is2digits = flen <= 2;
  return tmask;
}

/** A date written with delimiters ('2024-01-05', '1/5/2024', '5-jan-2024'): the fields it set (DecodeDate). */
function delimitedDate(str: string, fmask: number, st: State): number {
  const parts: string[] = [];
  let i = 0;
  while (i < str.length && parts.length < MAX_FIELDS) {
    while (i < str.length && !isAlnum(str[i])) i++;
    if (i >= str.length) throw BAD;
    const start = i;
    if (isDigit(str[i])) while (isDigit(str[i])) i++;
    else while (isAlpha(str[i])) i++;
    parts.push(str.slice(start, i));
    if (i < str.length) i++; // the one character after a field is its separator, whatever it is
  }
  let tmask = 0;
  let haveTextMonth = false;
  const numbers: string[] = [];
  // the words first: a month name settles the month
  for (const p of parts) {
    if (!isAlpha(p[0])) {
      numbers.push(p);
      continue;
    }
    const k = KEYWORDS.get(p);
    if (k?.kind === 'ignore') continue;
    if (k?.kind !== 'month' || fmask & MONTH) throw BAD;
    st.tm.mon = k.value;
    haveTextMonth = true;
    fmask |= MONTH;
    tmask |= MONTH;
  }
  for (const p of numbers) {
    const dmask = number(p, haveTextMonth, fmask, st);
    if (fmask & dmask) throw BAD;
    fmask |= dmask;
    tmask |= dmask;
  }
  if ((fmask & ~(DOY | TZ)) !== DATE_M) throw BAD;
  return tmask;
}

/** 'hh:mm[:ss[.f]]' or 'mm:ss.f' (DecodeTime). */
function time(str: string, tm: Tm): void {
  let at = strtoint(str);
  let hour = at.value;
  if (str[at.end] !== ':') throw BAD;
  at = strtoint(str, at.end + 1);
  let min = at.value;
  let sec = 0;
  let fsec = 0;
  const rest = str.slice(at.end);
  if (rest === '') sec = 0;
  else if (rest[0] === '.') {
    // mm:ss.fff
    fsec = fractionalSecond(rest);
    sec = min;
    min = hour;
    hour = 0;
  } else if (rest[0] === ':') {
    at = strtoint(str, at.end + 1);
    sec = at.value;
    const tail = str.slice(at.end);
    if (tail[0] === '.') fsec = fractionalSecond(tail);
    else if (tail !== '') throw BAD;
  } else throw BAD;
  if (min > 59 || sec > 60 || fsec > 1_000_000) throw FIELD;
  tm.hour = hour;
  tm.min = min;
  tm.sec = sec;
  tm.fsec = fsec;
}

/** Whether a time of day lies past 24:00:00 (time_overflows). */
const timeOverflows = (tm: Tm): boolean =>
  tm.hour > 24 || tm.min > 59 || tm.sec > 60 || tm.fsec > 1_000_000 || ((tm.hour * 60 + tm.min) * 60 + tm.sec) * 1_000_000 + tm.fsec > 86_400_000_000;

/** A numeric offset ('+05', '-08:00', '+0530', '+05:30:15'): seconds east of UTC (DecodeTimezone). */
function numericOffset(str: string): number {
  if (str[0] !== '+' && str[0] !== '-') throw BAD;
  let hr: number;
  let min = 0;
  let sec = 0;
  let end: number;
  try {
    let at = strtoint(str, 1);
    hr = at.value;
    end = at.end;
    if (str[end] === ':') {
      at = strtoint(str, end + 1);
      min = at.value;
      end = at.end;
      if (str[end] === ':') {
        at = strtoint(str, end + 1);
        sec = at.value;
        end = at.end;
      }
    } else if (end === str.length && str.length > 3) {
      // run together: hhmm
      min = hr % 100;
      hr = Math.trunc(hr / 100);
    }
  } catch {
    throw OFFSET;
  }
  if (hr > 15 || min > 59 || sec > 59) throw OFFSET;
  if (end !== str.length) throw BAD;
  const east = (hr * 60 + min) * 60 + sec;
  return str[0] === '-' ? -east : east;
}

/**
 * A zone by its name in date-time input (pg_tzset): a zone of the time zone
 * database, or a POSIX name with an offset ('GMT+5', 'abc-3:30': hours west);
 * null when there is none.
 */
function zoneByName(name: string): Zone | null {
  const posix = /^([a-z]{3,})([+-]?)(\d{1,2})(?::(\d{1,2}))?(?::(\d{1,2}))?$/.exec(name);
  if (posix && Number(posix[3]) <= 24) {
    const west = (Number(posix[3]) * 60 + Number(posix[4] ?? 0)) * 60 + Number(posix[5] ?? 0);
    return fixedZone(posix[2] === '-' ? west : -west);
  }
  try {
    return zoneNamed(name);
  } catch {
    return null;
  }
}

/** The wall clock now in `zone`, as fields. */
function nowFields(nowMs: number, zone: Zone): { tm: Tm; offset: number } {
  const offset = zone.offsetAt(nowMs);
  const local = new Date(nowMs + offset * 1000);
  return {
    tm: { year: local.getUTCFullYear(), mon: local.getUTCMonth() + 1, mday: local.getUTCDate(), hour: local.getUTCHours(), min: local.getUTCMinutes(), sec: local.getUTCSeconds(), fsec: local.getUTCMilliseconds() * 1000, yday: 0 },
    offset,
  };
}

export interface InputContext {
  /** The session's TimeZone: 'now' and 'today' are its wall clock. */
  zone: Zone;
  /** The session's DateStyle field order. */
  order: DateOrder;
  /** Unix milliseconds of 'now'. */
  now: number;
}

/**
 * Date-time input read as PostgreSQL's input function for `type` reads it:
 * the fields, or a special value; PgError with PostgreSQL's SQLSTATE and
 * message for what it refuses.
 */
export function readDateTime(s: string, type: DateTimeType, ctx: InputContext): DateTimeInput {
  try {
    return decode(tokenize(s, BUFFER[type]), ctx);
  } catch (e) {
    if (e instanceof Refused) throw refusal(e, s, type);
    throw e;
  }
}

/** The fields as DecodeDateTime reads them. */
function decode(fields: Field[], ctx: InputContext): DateTimeInput {
  const tm: Tm = { year: 0, mon: 0, mday: 0, hour: 0, min: 0, sec: 0, fsec: 0, yday: 0 };
  const st: State = { tm, order: ctx.order, is2digits: false };
  let fmask = 0;
  let ptype: Unit | 'time' | null = null;
  let mer: 'am' | 'pm' | null = null;
  let haveTextMonth = false;
  let isJulian = false;
  let bc = false;
  let special: 'infinity' | '-infinity' | 'epoch' | null = null;
  /** Seconds east, as the fields so far set it (a 'DST' adds an hour to it). */
  let offset = 0;
  let namedZone: Zone | null = null;
  const julian = (jd: number): void => {
    const d = j2date(jd);
    tm.year = d.year;
    tm.mon = d.month;
    tm.mday = d.day;
    isJulian = true;
  };
  for (let i = 0; i < fields.length; i++) {
    const { text, type } = fields[i]!;
    let tmask = 0;
    switch (type) {
      case 'date':
        if (ptype === 'julian') {
          // a Julian day with its zone attached ('J2451187-08')
          const { value, end } = strtoint(text);
          julian(value);
          offset = numericOffset(text.slice(end));
          tmask = DATE_M | TIME_M | TZ;
          ptype = null;
        } else if (ptype !== null || (fmask & (MONTH | DAY)) === (MONTH | DAY)) {
          // after the date: a zone name ('America/New_York'), or a run-together time with its offset ('100000-05')
          if (isDigit(text[0]) || ptype !== null) {
            if (ptype !== null) {
              if (ptype !== 'time') throw BAD;
              ptype = null;
            }
            if ((fmask & TIME_M) === TIME_M) throw BAD;
            const dash = text.indexOf('-');
            if (dash < 0) throw BAD;
            offset = numericOffset(text.slice(dash));
            tmask = numberField(text.slice(0, dash), fmask, st) | TZ;
          } else {
            namedZone = zoneByName(text);
            if (!namedZone) throw new Refused('zone', text);
            tmask = TZ;
          }
        } else tmask = delimitedDate(text, fmask, st);
        break;
      case 'time':
        if (ptype !== null) {
          if (ptype !== 'time') throw BAD;
          ptype = null;
        }
        time(text, tm);
        tmask = TIME_M;
        if (timeOverflows(tm)) throw FIELD;
        break;
      case 'tz':
        offset = numericOffset(text);
        tmask = TZ;
        break;
      case 'number':
        if (ptype !== null) {
          // a number labelled by the field before it ('y2024', 'j2460315', 't100000')
          const { value, end } = strtoint(text);
          const rest = text.slice(end);
          if (rest !== '' && !(rest[0] === '.' && (ptype === 'julian' || ptype === 'time' || ptype === 'second'))) throw BAD;
          switch (ptype) {
            case 'year':
              tm.year = value;
              tmask = YEAR;
              break;
            case 'month':
              // with a month and an hour already, minutes
              if (fmask & MONTH && fmask & HOUR) {
                tm.min = value;
                tmask = MINUTE;
              } else {
                tm.mon = value;
                tmask = MONTH;
              }
              break;
            case 'day':
              tm.mday = value;
              tmask = DAY;
              break;
            case 'hour':
              tm.hour = value;
              tmask = HOUR;
              break;
            case 'minute':
              tm.min = value;
              tmask = MINUTE;
              break;
            case 'second':
              tm.sec = value;
              tmask = SECOND;
              if (rest) tm.fsec = fractionalSecond(rest);
              break;
            case 'julian':
              julian(value);
              tmask = DATE_M;
              if (rest) {
                // a fraction of a day
                if (!/^\.\d*$/.test(rest)) throw BAD;
                let us = Math.trunc(Number('0' + rest) * 86_400_000_000);
                tm.hour = Math.floor(us / 3_600_000_000);
                us -= tm.hour * 3_600_000_000;
                tm.min = Math.floor(us / 60_000_000);
                us -= tm.min * 60_000_000;
                tm.sec = Math.floor(us / 1_000_000);
                tm.fsec = us - tm.sec * 1_000_000;
                tmask |= TIME_M;
              }
              break;
            case 'time':
              tmask = numberField(text, fmask | DATE_M, st);
              if (tmask !== TIME_M) throw BAD;
              break;
            default:
              throw BAD;
          }
          ptype = null;
        } else {
          const point = text.indexOf('.');
          if (point >= 0 && !(fmask & DATE_M)) tmask = delimitedDate(text, fmask, st);
          else if (point > 2) tmask = numberField(text, fmask, st);
          else if (text.length >= 6 && (!(fmask & DATE_M) || !(fmask & TIME_M))) tmask = numberField(text, fmask, st);
          else tmask = number(text, haveTextMonth, fmask, st);
        }
        break;
      case 'string':
      case 'special': {
        // the abbreviations of zones first, then the keywords, then the names of zones
        const abbreviated = ZONE_ABBREVIATIONS.get(text);
        if (abbreviated !== undefined) {
          offset = abbreviated;
          tmask = DAYLIGHT.has(text) ? DTZ | TZ : TZ;
          break;
        }
        const k = KEYWORDS.get(text);
        if (!k) {
          const z = type === 'string' ? zoneByName(text) : null;
          if (!z) throw BAD;
          namedZone = z;
          tmask = TZ;
          break;
        }
        switch (k.kind) {
          case 'ignore':
            continue;
          case 'reserved':
            switch (k.value) {
              case 'now': {
                const n = nowFields(ctx.now, ctx.zone);
                Object.assign(tm, n.tm);
                offset = n.offset;
                tmask = DATE_M | TIME_M | TZ;
                break;
              }
              case 'today':
              case 'tomorrow':
              case 'yesterday': {
                const n = nowFields(ctx.now, ctx.zone).tm;
                const d = j2date(date2j(n.year, n.mon, n.mday) + (k.value === 'today' ? 0 : k.value === 'tomorrow' ? 1 : -1));
                tm.year = d.year;
                tm.mon = d.month;
                tm.mday = d.day;
                tmask = DATE_M;
                break;
              }
              case 'zulu':
                tm.hour = tm.min = tm.sec = 0;
                offset = 0;
                tmask = TIME_M | TZ;
                break;
              default:
                special = k.value === 'early' ? '-infinity' : k.value === 'late' ? 'infinity' : 'epoch';
                tmask = RESERV;
            }
            break;
          case 'month':
            tmask = MONTH;
            // a number read as the month before the month's name was its day ('5 Jan 2024' in MDY)
            if (fmask & MONTH && !haveTextMonth && !(fmask & DAY) && tm.mon >= 1 && tm.mon <= 31) {
              tm.mday = tm.mon;
              tmask = DAY;
            }
            haveTextMonth = true;
            tm.mon = k.value;
            break;
          case 'dst':
            offset += 3600;
            tmask = DTZMOD | DTZ;
            break;
          case 'ampm':
            mer = k.value;
            tmask = AMPM;
            break;
          case 'era':
            bc = k.value === 'bc';
            tmask = ADBC;
            break;
          case 'dow':
            tmask = DOW;
            break;
          case 'unit':
            ptype = k.value;
            break;
          case 'isotime': {
            // 'T' between a date and its time
            const next = fields[i + 1]?.type;
            if ((fmask & DATE_M) !== DATE_M || (next !== 'number' && next !== 'time' && next !== 'date')) throw BAD;
            ptype = 'time';
            break;
          }
        }
        break;
      }
    }
    if (tmask & fmask) throw BAD;
    fmask |= tmask;
  }
  if (special) return { special };
  // ValidateDate: the year as written (BC, two digits), a day of the year, the month and day in range
  if (fmask & YEAR && !isJulian) {
    if (bc) {
      if (tm.year <= 0) throw FIELD;
      tm.year = -(tm.year - 1);
    } else if (st.is2digits) {
      if (tm.year < 70) tm.year += 2000;
      else if (tm.year < 100) tm.year += 1900;
    } else if (tm.year <= 0) throw FIELD;
  }
  if (fmask & DOY) {
    const d = j2date(date2j(tm.year, 1, 1) + tm.yday - 1);
    tm.year = d.year;
    tm.mon = d.month;
    tm.mday = d.day;
  }
  if (fmask & MONTH && (tm.mon < 1 || tm.mon > 12)) throw ORDER;
  if (fmask & DAY && (tm.mday < 1 || tm.mday > 31)) throw ORDER;
  if ((fmask & DATE_M) === DATE_M && tm.mday > daysIn(tm.year, tm.mon)) throw FIELD;
  if (mer && tm.hour > 12) throw FIELD;
  if (mer === 'am' && tm.hour === 12) tm.hour = 0;
  else if (mer === 'pm' && tm.hour !== 12) tm.hour += 12;
  // a time alone is no date-time
  if ((fmask & DATE_M) !== DATE_M) throw BAD;
  if (fmask & DTZMOD && (namedZone || !(fmask & TZ))) throw BAD;
  const fieldsRead = { year: tm.year, month: tm.mon, day: tm.mday, hour: tm.hour, minute: tm.min, second: tm.sec, micros: tm.fsec };
  if (namedZone) return { ...fieldsRead, zone: namedZone };
  return fmask & TZ ? { ...fieldsRead, offset } : fieldsRead;
}

// ---------- what depends on the session ----------

const ORDERS: DateOrder[] = ['MDY', 'DMY', 'YMD'];
const NOW_WORDS = new Set(['now', 'today', 'tomorrow', 'yesterday']);
const FIXED_NOW = 0;

/**
 * Whether the reading of `s` depends on the session beyond its TimeZone: a
 * word for the moment it runs ('now', 'today 10:00'), or numbers its DateStyle
 * orders ('1/5/2024'). A constant that does is read by the session at each run.
 */
export function readsSession(s: string): boolean {
  let fields: Field[];
  try {
    fields = tokenize(s, BUFFER.timestamp);
  } catch {
    return false;
  }
  if (fields.some((f) => f.type === 'string' && NOW_WORDS.has(f.text))) return true;
  const read = ORDERS.map((order) => {
    try {
      return JSON.stringify(decode(fields, { zone: UTC_ZONE, order, now: FIXED_NOW }));
    } catch (e) {
      return e instanceof Refused ? `!${e.kind}` : '!';
    }
  });
  return read.some((r) => r !== read[0]);
}
