// Timestamp text in one spelling: 'YYYY-MM-DD HH:MM:SS[.ffffff]', PostgreSQL's
// output form (DateStyle ISO) less its zone, UTC for timestamptz, the fraction
// without trailing zeros. As text it sorts as the instants do, and an instant
// has one spelling. The verifier compares SQLite values with the target's in
// it (backfill/verify/canonical.ts); the SQLite source stores what it writes,
// and compares timestamps, in it (proxy/sqlite/types.ts).

/** Text already in the one spelling (no zone, no 'T', no trailing zeros in the fraction). */
export const ONE_SPELLING = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d*[1-9])?$/;

const TS = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * `s` in the one spelling; null when it is not a date-time (2024-02-30 is
 * none: Date.parse would roll it into March). `utc`: a zone in `s` is applied
 * (timestamptz), else ignored (timestamp, as PostgreSQL reads it).
 */
export function timestampText(s: string, utc: boolean): string | null {
  const m = TS.exec(s.trim());
  if (!m) return null;
  const [, date, hh = '00', mi = '00', ss = '00', frac = '', zone] = m;
  const [year, month, day] = date!.split('-').map(Number) as [number, number, number];
  if (!calendarDay(year, month, day)) return null;
  // PostgreSQL keeps microseconds, rounding what lies beyond
  let micros = Math.round(Number(('0.' + (frac || '0')).slice(0, 12)) * 1e6);
  let base = Date.parse(`${date}T${hh}:${mi}:${ss}Z`);
  if (Number.isNaN(base)) return null;
  if (micros >= 1e6) {
    base += 1000;
    micros -= 1e6;
  }
  if (utc && zone && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    base -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0')) * 60_000;
  }
  const d = new Date(base).toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  return `${d.slice(0, 10)} ${d.slice(11, 19)}${fraction(String(micros).padStart(6, '0'))}`;
}

/** Whether date-time text names its own zone or offset ('…Z', '…+01:00'): read as it says, not in the session's zone. */
export function hasZone(s: string): boolean {
  return TS.exec(s.trim())?.[6] !== undefined;
}

/** The common ISO forms, sliced without a regex: 'YYYY-MM-DD HH:MM:SS' and 'YYYY-MM-DDTHH:MM:SS.sssZ'. */
export function fastTimestamp(s: string): string | null {
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return null;
  const sep = s.charCodeAt(10);
  if (sep !== 32 && sep !== 84) return null;
  if (s.length === 19) return `${s.slice(0, 10)} ${s.slice(11, 19)}`;
  if (s.length === 24 && s.charCodeAt(19) === 46 && s.charCodeAt(23) === 90) return `${s.slice(0, 10)} ${s.slice(11, 19)}${fraction(s.slice(20, 23))}`;
  return null;
}

/** PostgreSQL prints fractional seconds without trailing zeros, and none at all for whole seconds. */
export function fraction(digits: string): string {
  const t = digits.replace(/0+$/, '');
  return t ? '.' + t : '';
}


/** Whether y-m-d is a day of the calendar (2024-02-30 is not; timestampText rolls it over into March). */
export function calendarDay(y: number, m: number, d: number): boolean {
  const t = new Date(0);
  t.setUTCFullYear(y, m - 1, d); // not Date.UTC: it reads years below 100 as 19xx
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}
