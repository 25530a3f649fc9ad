// A session's TimeZone on an SQLite source. The file holds timestamptz as UTC
// text (common/timestamp-text.ts); PostgreSQL reads a timestamptz written
// without an offset as the session's local time and prints one in it. A
// session in Europe/Paris (pgjdbc sends the JVM's zone at start-up; psql
// sends PGTZ) that wrote '2024-03-10 12:00' stored 12:00 UTC here and 11:00
// UTC on PostgreSQL: the application would read different instants after the
// promote. Zones are IANA names, as the time zone database Node carries knows them.
import { PgError, unsupported } from './errors.ts';

export interface Zone {
  readonly utc: boolean;
  /** Seconds east of UTC at the instant `utcMs`. */
  offsetAt(utcMs: number): number;
  /** The session's DateStyle field order, for date input ('1/5/2024'); none: MDY, PostgreSQL's default. */
  readonly dateOrder?: DateOrder;
}

/** The order date input reads numeric fields in (DateStyle's second part). */
export type DateOrder = 'MDY' | 'DMY' | 'YMD';

export const UTC_ZONE: Zone = { utc: true, offsetAt: () => 0 };

const UTC_NAMES = new Set(['utc', 'gmt', 'z', 'zulu', 'uct', 'universal', 'etc/utc', 'etc/gmt', 'etc/uct', 'etc/universal', 'etc/zulu', 'greenwich', 'etc/greenwich', 'gmt0', 'etc/gmt0', 'gmt+0', 'gmt-0', 'etc/gmt+0', 'etc/gmt-0']);

class IanaZone implements Zone {
  readonly utc = false;
  private readonly format: Intl.DateTimeFormat;

  constructor(name: string) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone: name, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short' });
  }

  offsetAt(utcMs: number): number {
    const whole = Math.floor(utcMs / 1000) * 1000;
    const p: Record<string, string> = {};
    for (const part of this.format.formatToParts(new Date(whole))) p[part.type] = part.value;
    const year = p.era === 'BC' || p.era === 'B' ? 1 - Number(p.year) : Number(p.year);
    const local = new Date(0);
    local.setUTCFullYear(year, Number(p.month) - 1, Number(p.day));
    local.setUTCHours(Number(p.hour), Number(p.minute), Number(p.second), 0);
    return Math.round((local.getTime() - whole) / 1000);
  }
}

const zones = new Map<string, Zone>();

/**
 * The zone a TimeZone value names: 22023 for a name no zone has, as
 * PostgreSQL answers; 0A000 for PostgreSQL's offset forms ('-7', 'UTC+3',
 * INTERVAL), which the SQLite source does not read.
 */
export function zoneNamed(value: string): Zone {
  const key = value.trim().toLowerCase();
  if (UTC_NAMES.has(key)) return UTC_ZONE;
  const known = zones.get(key);
  if (known) return known;
  if (/^[+-]?\d/.test(key) || /^(utc|gmt)[+-]/.test(key) || /^<|[<>]/.test(key)) {
    throw unsupported(`TimeZone "${value}" given as an offset`, "name the zone, e.g. 'Etc/GMT+7' or 'America/Denver'");
  }
  let zone: Zone;
  try {
    zone = new IanaZone(value.trim());
    zone.offsetAt(0);
  } catch {
    throw new PgError('22023', `invalid value for parameter "TimeZone": "${value}"`);
  }
  zones.set(key, zone);
  return zone;
}

const fixedZones = new Map<number, Zone>();

/** A zone always `seconds` east of UTC. */
export function fixedZone(seconds: number): Zone {
  if (seconds === 0) return UTC_ZONE;
  let z = fixedZones.get(seconds);
  if (!z) fixedZones.set(seconds, (z = { utc: false, offsetAt: () => seconds }));
  return z;
}

/**
 * The UTC instant (ms) of local wall-clock time `localMs` (read as if UTC) in
 * `zone`. A time a spring-forward skips is read with the offset before it,
 * one a fall-back repeats with the offset after it, as PostgreSQL reads them.
 */
export function localToUtc(zone: Zone, localMs: number): number {
  if (zone.utc) return localMs;
  const before = zone.offsetAt(localMs - 86_400_000);
  const after = zone.offsetAt(localMs + 86_400_000);
  const asAfter = localMs - after * 1000;
  if (zone.offsetAt(asAfter) === after) return asAfter;
  return localMs - before * 1000;
}

/** PostgreSQL's offset suffix: +01, -03:30, +00:09:21. */
export function offsetText(seconds: number): string {
  const sign = seconds < 0 ? '-' : '+';
  const s = Math.abs(seconds);
  const hh = String(Math.floor(s / 3600)).padStart(2, '0');
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  return sign + hh + (mm || ss ? ':' + String(mm).padStart(2, '0') : '') + (ss ? ':' + String(ss).padStart(2, '0') : '');
}

/** The field order of a DateStyle value ('ISO, DMY', 'European', 'German'), as PostgreSQL reads it. */
export function dateOrderOf(datestyle: string): DateOrder {
  let order: DateOrder | null = null;
  let german = false;
  for (const word of datestyle.toLowerCase().split(/[\s,]+/)) {
    if (word === 'ymd') order = 'YMD';
    else if (word === 'dmy' || word === 'euro' || word === 'european') order = 'DMY';
    else if (word === 'mdy' || word === 'us' || word === 'noneuro' || word === 'noneuropean') order = 'MDY';
    else if (word === 'german') german = true;
  }
  return order ?? (german ? 'DMY' : 'MDY');
}

/**
 * A session's zone with its DateStyle's field order, which date input reads
 * (date-input.ts): the zone itself under MDY.
 */
export function withDateStyle(zone: Zone, datestyle: string | undefined): Zone {
  const dateOrder = dateOrderOf(datestyle ?? '');
  if (dateOrder === (zone.dateOrder ?? 'MDY')) return zone;
  return { utc: zone.utc, offsetAt: (utcMs: number) => zone.offsetAt(utcMs), dateOrder };
}
