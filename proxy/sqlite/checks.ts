// Errors PostgreSQL raises where SQLite quietly returns something: division by
// zero (SQLite: NULL), integer overflow (SQLite: a float), invalid input in a
// cast (SQLite: 0, or the numeric prefix), and values a column's type cannot
// hold (varchar(n) length, integer range, numeric(p,s) precision), which the
// file would keep and the new database would refuse when the write is mirrored.
//
// The translator (translate.ts) writes calls to the functions below into the
// SQLite SQL; each session registers them on its connection. They throw
// PgError, which better-sqlite3 rethrows as the same object, so the SQLSTATE
// and message reach the client as PostgreSQL words them, and SQLite undoes the
// statement's partial work as for any failing statement.
import type Database from 'better-sqlite3';
import { mapSqliteType } from '../../backfill/schema/sqlite-types.ts';
import { PgError, unsupported } from './errors.ts';
import { UTC_ZONE, type Zone } from './time-zone.ts';
import { date2j, END_JULIAN_DAY, j2date, storedDate } from './date-input.ts';
import { asBool, checkFloatInput, DECIMAL, decimalParts, FLOAT_WORDS, formatFloat, intTypeName, OID, oidOfDeclared, parseIntInput, textOf, type SqlValue } from './types.ts';

type DecimalParts = NonNullable<ReturnType<typeof decimalParts>>;

/** Integer widths the arithmetic and casts check against; PostgreSQL's int2, int4, int8. */
export type Bits = 16 | 32 | 64;

const LIMITS: Record<Bits, [bigint, bigint]> = {
  16: [-32768n, 32767n],
  32: [-2147483648n, 2147483647n],
  64: [-9223372036854775808n, 9223372036854775807n],
};
const BITS_OID: Record<Bits, number> = { 16: OID.int2, 32: OID.int4, 64: OID.int8 };

export const divisionByZero = (): PgError => new PgError('22012', 'division by zero');
export const outOfRange = (bits: Bits): PgError => new PgError('22003', `${intTypeName(BITS_OID[bits])} out of range`);

export const fitsInt = (n: bigint, bits: Bits): boolean => n >= LIMITS[bits][0] && n <= LIMITS[bits][1];

export function fitInt(n: bigint, bits: Bits): bigint {
  if (!fitsInt(n, bits)) throw outOfRange(bits);
  return n;
}

/** numeric → integer as PostgreSQL converts it: half away from zero (float8 → integer: half to even), then the range. */
export function roundToInt(x: number, bits: Bits, halfEven = false): bigint {
  if (!Number.isFinite(x)) throw outOfRange(bits);
  let r = Math.sign(x) * Math.round(Math.abs(x));
  if (halfEven && Math.abs(x % 1) === 0.5) r = 2 * Math.round(x / 2);
  return fitInt(BigInt(r), bits);
}

// ---------- arithmetic ----------
// Operands arrive as SQLite's arithmetic sees them: the translator passes
// anything that may be text as `x * 1`, so SQLite itself turns text into a
// number (its rules, its float parser) and only bigint, number or null reach
// these functions. The results are SQLite's own, except where PostgreSQL errs.

type Num = bigint | number | null;

export const floatOverflow = (): PgError => new PgError('22003', 'value out of range: overflow');
export const floatUnderflow = (): PgError => new PgError('22003', 'value out of range: underflow');

/**
 * float8 arithmetic's result as PostgreSQL's float8pl/mi/mul/div check it:
 * infinite from finite operands is an overflow, zero from nonzero ones (where
 * `underflow` says the operator checks it) an underflow. SQLite kept Infinity
 * or 0, and the file and the new database held it.
 */
function checkedFloat(r: number, a: number, b: number, underflow: boolean): number | null {
  if (Number.isNaN(r)) return null;
  if (!Number.isFinite(r) && Number.isFinite(a) && Number.isFinite(b)) throw floatOverflow();
  if (underflow && r === 0 && a !== 0 && Number.isFinite(b) && b !== 0) throw floatUnderflow();
  return r;
}

function arith(op: (a: bigint, b: bigint) => bigint, fop: (a: number, b: number) => number, underflow = false) {
  return (a: Num, b: Num, bits: bigint): Num => {
    if (a === null || b === null) return null;
    if (typeof a === 'bigint' && typeof b === 'bigint') return fitInt(op(a, b), Number(bits) as Bits);
    const [x, y] = [Number(a), Number(b)];
    return checkedFloat(fop(x, y), x, y, underflow);
  };
}

function divide(a: Num, b: Num, bits: bigint): Num {
  if (a === null || b === null) return null;
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    if (b === 0n) throw divisionByZero();
    return fitInt(a / b, Number(bits) as Bits);
  }
  const d = Number(b);
  if (d === 0) throw divisionByZero();
  const x = Number(a);
  return checkedFloat(x / d, x, d, true);
}

/** Unary minus: PostgreSQL's int8um/int4um refuse the one integer whose negation leaves the range; SQLite made it a double. */
function negate(a: Num, bits: bigint): Num {
  if (a === null) return null;
  return typeof a === 'bigint' ? fitInt(-a, Number(bits) as Bits) : -a;
}

/** SQLite's REAL → INTEGER for %: truncation, clamped. */
function realToInt64(r: number): bigint {
  if (r <= -9223372036854775808) return -9223372036854775808n;
  if (r >= 9223372036854775807) return 9223372036854775807n;
  return BigInt(Math.trunc(r));
}

/** `_bits`: % cannot leave the operands' range (x % -1 is 0, as in PostgreSQL). */
function remainder(a: Num, b: Num, _bits: bigint): Num {
  if (a === null || b === null) return null;
  if (typeof a === 'bigint' && typeof b === 'bigint') {
    if (b === 0n) throw divisionByZero();
    return b === -1n ? 0n : a % b;
  }
  if (Number(b) === 0) throw divisionByZero();
  // SQLite takes % of reals on their integer parts (and gives NULL where that divisor is 0)
  let ib = realToInt64(Number(b));
  if (ib === 0n) return null;
  if (ib === -1n) ib = 1n;
  return Number(realToInt64(Number(a)) % ib);
}

function divisor(b: Num): Num {
  if (b !== null && Number(b) === 0) throw divisionByZero();
  return b;
}

/**
 * The width integer arithmetic over these operands runs in, as PostgreSQL
 * picks its operator: the widest of them, each a width (16, 32, 64; 0 for
 * none of its own) or a column's declared type (INT4 is 32, SMALLINT 16, any
 * other 64).
 */
function width(...parts: SqlValue[]): bigint {
  let w = 0;
  for (const p of parts) {
    if (typeof p === 'bigint') w = Math.max(w, Number(p));
    else {
      const oid = oidOfDeclared(p === null ? null : String(p));
      w = Math.max(w, oid === OID.int2 ? 16 : oid === OID.int4 ? 32 : 64);
    }
  }
  return BigInt(w || 64);
}

/** An integer result (abs()) in its operand's width. */
function fit(v: SqlValue, bits: bigint): SqlValue {
  return typeof v === 'bigint' ? fitInt(v, Number(bits) as Bits) : v;
}

// ---------- float8 functions and aggregates ----------
// Each gets SQLite's own result beside the arguments it came from, and errs
// where PostgreSQL's float8 function does (float.c): SQLite gave Infinity, 0
// or NULL, which a write then stored. Numbers only: text and blobs pass.

const num = (v: SqlValue): number | undefined => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined);

/** power(a, b): dpow's domain errors, then an infinite result from finite arguments (overflow) or zero from a nonzero base (underflow). */
function checkedPower(r: SqlValue, a: SqlValue, b: SqlValue): SqlValue {
  const [x, y] = [num(a), num(b)];
  if (x === undefined || y === undefined) return r;
  if (x === 0 && y < 0) throw new PgError('2201F', 'zero raised to a negative power is undefined');
  if (x < 0 && Number.isFinite(y) && Math.floor(y) !== y) throw new PgError('2201F', 'a negative number raised to a non-integer power yields a complex result');
  const v = num(r);
  if (v === undefined || !Number.isFinite(x) || !Number.isFinite(y)) return r;
  if (!Number.isFinite(v)) throw floatOverflow();
  if (v === 0 && x !== 0) throw floatUnderflow();
  return r;
}

/** exp(x): infinite from a finite x is an overflow, zero an underflow (dexp). */
function checkedExp(r: SqlValue, a: SqlValue): SqlValue {
  const [x, v] = [num(a), num(r)];
  if (x === undefined || v === undefined || !Number.isFinite(x)) return r;
  if (!Number.isFinite(v)) throw floatOverflow();
  if (v === 0) throw floatUnderflow();
  return r;
}

/** sqrt(x) and ln(x) of what they have no real value for: SQLite answers NULL. */
function mathArgument(name: SqlValue, a: SqlValue): SqlValue {
  const x = num(a);
  if (x === undefined) return a;
  if (name === 'sqrt' && x < 0) throw new PgError('2201F', 'cannot take square root of a negative number');
  if (name === 'ln' && x === 0) throw new PgError('2201E', 'cannot take logarithm of zero');
  if (name === 'ln' && x < 0) throw new PgError('2201E', 'cannot take logarithm of a negative number');
  return a;
}

/**
 * PostgreSQL's running state of sum() (float8pl) or avg() (float8_accum:
 * count, sum and sum of squared deviations) over doubles, errs where it would
 * overflow: avg(1e200, -1e200) does, where SQLite answered 0. Integers are
 * PostgreSQL's numeric sum there, which does not overflow, and are left out.
 */
interface FloatAccum { n: number; sx: number; sxx: number }

function accumulate(avg: boolean) {
  return (st: FloatAccum, v: SqlValue): FloatAccum => {
    if (typeof v !== 'number' || Number.isNaN(v)) return st;
    const [n0, sx0] = [st.n, st.sx];
    st.n += 1;
    st.sx += v;
    if (!avg || n0 === 0) {
      if (n0 > 0 && !Number.isFinite(st.sx) && Number.isFinite(sx0) && Number.isFinite(v)) throw floatOverflow();
      if (n0 === 0 && !Number.isFinite(v)) st.sxx = NaN;
      return st;
    }
    const tmp = v * st.n - st.sx;
    st.sxx += (tmp * tmp) / (st.n * n0);
    if (Math.abs(st.sx) === Infinity || Math.abs(st.sxx) === Infinity) {
      if (Number.isFinite(sx0) && Number.isFinite(v)) throw floatOverflow();
      st.sxx = NaN;
    }
    return st;
  };
}

/**
 * avg() of integers as PostgreSQL's numeric division gives it: the exact sum
 * over the count, at select_div_scale's scale (16 significant digits at
 * least, rounded half away from zero): avg of 1 and 2 is 1.5000000000000000.
 * SQLite's double printed 1.5, and past 2^53 another number. null when a
 * value is not an integer (SQLite's avg() answers then).
 */
interface IntAccum { sum: bigint; count: bigint; ints: boolean }

function intAverage(st: IntAccum): string | null {
  if (!st.ints || st.count === 0n) return null;
  const lead = (v: bigint): [number, bigint] => {
    let weight = 0;
    for (let x = v < 0n ? -v : v; x >= 10000n; x /= 10000n) weight++;
    const a = v < 0n ? -v : v;
    return [weight, a / 10000n ** BigInt(weight)];
  };
  const [w1, f1] = lead(st.sum);
  const [w2, f2] = lead(st.count);
  const qweight = w1 - w2 - (f1 <= f2 ? 1 : 0);
  const scale = Math.min(Math.max(16 - qweight * 4, 0), 1000);
  const a = st.sum < 0n ? -st.sum : st.sum;
  const q = (a * 10n ** BigInt(scale) * 2n + st.count) / (2n * st.count);
  const digits = q.toString().padStart(scale + 1, '0');
  const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return st.sum < 0n && q !== 0n ? `-${text}` : text;
}

/**
 * sum() or avg() of doubles: infinite where no value summed was (`lo`, `hi`:
 * the least and greatest of them) is float8pl's overflow in PostgreSQL's
 * running sum. SQLite summed on to Infinity.
 */
function checkedTotal(r: SqlValue, lo: SqlValue, hi: SqlValue): SqlValue {
  const v = num(r);
  if (v === undefined || Number.isFinite(v) || Number.isNaN(v)) return r;
  const [a, b] = [num(lo), num(hi)];
  if (a === -Infinity || b === Infinity) return r;
  throw floatOverflow();
}

// ---------- casts ----------

/** x::int2/int4/int8 of a value that is not a constant (constants are checked when translated). */
function castInt(x: SqlValue, bits: bigint, halfEven: bigint): SqlValue {
  const b = Number(bits) as Bits;
  if (x === null) return null;
  if (typeof x === 'bigint') return fitInt(x, b);
  if (typeof x === 'number') return roundToInt(x, b, halfEven !== 0n);
  if (typeof x === 'string') return parseIntInput(x, BITS_OID[b]);
  throw new PgError('42846', `cannot cast type bytea to ${intTypeName(BITS_OID[b])}`);
}

/**
 * float8 → float4 as PostgreSQL's dtof converts: past real's range is an
 * overflow, a nonzero value that becomes zero there an underflow. SQLite has
 * no float4 and kept the double, which the new database's real refused.
 */
export function toFloat4(x: number): number {
  const r = Math.fround(x);
  if (!Number.isFinite(r) && Number.isFinite(x)) throw floatOverflow();
  if (r === 0 && x !== 0) throw floatUnderflow();
  return x;
}

function castFloat(x: SqlValue, bits: bigint): SqlValue {
  if (typeof x === 'string') return checkFloatInput(x, Number(bits) === 4 ? 4 : 8);
  if (typeof x === 'number' && Number(bits) === 4) return toFloat4(x);
  if (Buffer.isBuffer(x)) throw new PgError('42846', `cannot cast type bytea to ${Number(bits) === 4 ? 'real' : 'double precision'}`);
  return x;
}

/**
 * A number with PostgreSQL's numeric(p,s) limit: 22003 when it would not fit
 * once rounded to s decimals (the target's column, or a cast, would refuse it).
 * Else the value rounded to s decimals as PostgreSQL rounds it (half away from
 * zero, on the decimal digits): 2.675 into numeric(10,2) is 2.68. Kept as
 * written, SQLite held the double nearest 2.675, printed 2.67, while the
 * mirror, reading 2.675, held 2.68. A bare numeric (precision 0) is not rounded.
 */
export function checkNumeric(v: SqlValue, precision: number, scale: number): SqlValue {
  if (v === null || Buffer.isBuffer(v)) return v;
  let text: string;
  if (typeof v === 'bigint') text = String(v);
  else if (typeof v === 'number') {
    if (!Number.isFinite(v)) return infiniteNumeric(precision, scale);
    text = String(v);
  } else {
    const t = v.trim().toLowerCase();
    if (t === 'nan') throw unsupported('NaN (SQLite stores no NaN)');
    if (t === 'infinity' || t === '+infinity' || t === '-infinity') return precision > 0 ? infiniteNumeric(precision, scale) : v;
    if (!DECIMAL.test(v)) throw new PgError('22P02', `invalid input syntax for type numeric: "${v}"`);
    text = t;
  }
  const parts = decimalParts(text);
  if (precision > 0 && parts && integerDigits(parts, scale) > precision - scale) {
    const max = precision - scale;
    throw new PgError('22003', 'numeric field overflow', `A field with precision ${precision}, scale ${scale} must round to an absolute value less than ${max ? `10^${max}` : '1'}.`);
  }
  if (precision <= 0 || typeof v === 'bigint' || !parts) return v;
  const rounded = roundDecimal(parts, scale);
  return typeof v === 'number' ? Number(rounded) : rounded;
}

/** A decimal rounded half away from zero to `scale` decimals, as fixed-point text ('2.675', 2 → '2.68'; '1e-7', 2 → '0.00'). */
function roundDecimal(parts: DecimalParts, scale: number): string {
  let { digits, point } = parts;
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  const keep = point + scale;
  let n = BigInt(digits.slice(0, keep).padEnd(keep, '0') || '0');
  if (digits.length > keep && digits[keep]! >= '5') n += 1n;
  const s = n.toString().padStart(scale + 1, '0');
  const fixed = scale ? `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}` : s;
  return n && parts.negative ? `-${fixed}` : fixed;
}

function infiniteNumeric(precision: number, scale: number): never {
  throw new PgError('22003', 'numeric field overflow', `A field with precision ${precision}, scale ${scale} cannot hold an infinite value.`);
}

/** Digits before the decimal point of a decimal once rounded (half away from zero) to `scale` decimals. */
function integerDigits(parts: DecimalParts, scale: number): number {
  let { digits, point } = parts;
  const lead = digits.length - digits.replace(/^0+/, '').length;
  digits = digits.slice(lead);
  point -= lead;
  if (!digits) return 0;
  const keep = point + scale;
  if (keep < 0) return 0;
  if (keep < digits.length && digits[keep]! >= '5') {
    // rounding up carries into a new leading digit only when every kept digit is 9
    const kept = digits.slice(0, keep);
    if (/^9*$/.test(kept)) return Math.max(0, point + 1);
  }
  if (keep < digits.length && !/[1-9]/.test(digits.slice(0, keep))) return 0;
  return Math.max(0, point);
}

/**
 * substr(s, start[, count]) as PostgreSQL's: characters from position start
 * (1 is the first) for count, what lies before 1 simply missing, so
 * substr('hello', -1, 3) is 'h' and substr('hello', -3) is 'hello'. SQLite
 * counts a start below 1 from the end ('o', 'llo'). A negative count is 22011.
 */
function substring(...args: SqlValue[]): SqlValue {
  const [s, start, count] = args;
  if (s === null || s === undefined || start === null || start === undefined || count === null) return null;
  const from = Number(start);
  if (count !== undefined && Number(count) < 0) throw new PgError('22011', 'negative substring length not allowed');
  const end = count === undefined ? Infinity : from + Number(count); // exclusive
  const first = Math.max(from, 1);
  if (end <= first) return Buffer.isBuffer(s) ? Buffer.alloc(0) : '';
  if (Buffer.isBuffer(s)) return s.subarray(first - 1, end === Infinity ? undefined : end - 1);
  const chars = Array.from(String(s)); // code points, as PostgreSQL counts characters
  return chars.slice(first - 1, end === Infinity ? undefined : end - 1).join('');
}

// ---------- writes into typed columns ----------

/** What a column's type makes of a value written into it: the value to store, or a PgError. */
export type Checker = (v: SqlValue) => SqlValue;

/**
 * A primary key column's check: NOT NULL, as every key column is in
 * PostgreSQL, then its type's. SQLite gives an INTEGER PRIMARY KEY written
 * NULL a new rowid, and keeps NULL in other key columns of a rowid table.
 */
export function keyColumn(column: string, table: string, typed: Checker | null): Checker {
  return (v) => {
    if (v === null) throw new PgError('23502', `null value in column "${column}" of relation "${table}" violates not-null constraint`);
    return typed ? typed(v) : v;
  };
}

/**
 * The check for a column, from its declared type: the type the proxy reports
 * for it (SMALLINT is int2, INT4 int4) and the one `cutover schema` gave it on
 * the new database (backfill/schema/sqlite-types.ts), which the mirror
 * enforces: any INT type is bigint there, VARCHAR(n) and CHAR(n) varchar(n),
 * NUMERIC(p,s) numeric(p,s). INTEGER stays 64-bit: it is SQLite's integer,
 * whatever the application meant, and bigint on the new database.
 */
export function columnChecker(declared: string | null | undefined): Checker | null {
  if (!declared) return null;
  const oid = oidOfDeclared(declared);
  if (oid === OID.int2) return intColumn(16);
  if (oid === OID.int4) return intColumn(32);
  // reported as real (float4): what real cannot hold is refused, as PostgreSQL's real column would
  if (oid === OID.float4) return (v) => (typeof v === 'number' ? toFloat4(v) : typeof v === 'string' && DECIMAL.test(v) ? (checkFloatInput(v, 4), v) : v);
  const mapped = mapSqliteType(declared).type;
  if (mapped === 'bigint') return intColumn(64);
  let m = /^varchar\((\d+)\)$/.exec(mapped);
  if (m) return textColumn(Number(m[1]), /^\s*(N?CHAR|CHARACTER)\s*\(/i.test(declared) ? 'character' : 'character varying');
  m = /^numeric\((\d+)(?:, (\d+))?\)$/.exec(mapped);
  if (m) {
    const [p, s] = [Number(m[1]), Number(m[2] ?? 0)];
    return (v) => checkNumeric(v, p, s);
  }
  return null;
}

/**
 * Integers as the column's type holds them: a float is rounded as PostgreSQL's
 * assignment rounds it (SQLite would keep 2.5 in an INTEGER column, which the
 * new database's bigint refuses), then the range is checked.
 */
function intColumn(bits: Bits): Checker {
  return (v) => (typeof v === 'bigint' ? (bits === 64 ? v : fitInt(v, bits)) : typeof v === 'number' ? roundToInt(v, bits) : v);
}

/** varchar(n): longer is refused, unless what is beyond n is spaces, which PostgreSQL drops. */
function textColumn(n: number, typeName: string): Checker {
  const tooLong = () => new PgError('22001', `value too long for type ${typeName}(${n})`);
  return (v) => {
    if (typeof v === 'string') {
      if (v.length <= n) return v;
      const chars = [...v];
      if (chars.length <= n) return v;
      if (chars.slice(n).some((c) => c !== ' ')) throw tooLong();
      return chars.slice(0, n).join('');
    }
    if ((typeof v === 'bigint' ? String(v) : typeof v === 'number' ? formatFloat(v) : '').length > n) throw tooLong();
    return v;
  };
}

// ---------- GREATEST / LEAST ----------

/** SQLite's order of values: numbers (integer and real alike), then text, then blobs. */
function compareValues(a: Exclude<SqlValue, null>, b: Exclude<SqlValue, null>): number {
  const rank = (v: SqlValue) => (typeof v === 'number' || typeof v === 'bigint' ? 0 : typeof v === 'string' ? 1 : 2);
  const d = rank(a) - rank(b);
  if (d !== 0) return d;
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return Buffer.compare(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** PostgreSQL's GREATEST (`sign` 1) and LEAST (-1): NULLs are ignored, NULL only if every value is. SQLite's max()/min() of several values give NULL for any NULL. */
function extreme(sign: 1 | -1) {
  return (...values: SqlValue[]): SqlValue => {
    let best: SqlValue = null;
    for (const v of values) if (v !== null && (best === null || compareValues(v, best) * sign > 0)) best = v;
    return best;
  };
}

// ---------- generate_series ----------

/** The engine's generate_series in FROM (translate.ts, seriesInFrom). */
export const SERIES_FUNCTION = 'cutover_generate_series';

/**
 * More values than this are refused (54000): the engine answers a read whole,
 * on the proxy's one thread, so a series of billions would stall every session
 * for as long as it ran.
 */
const SERIES_LIMIT = 10_000_000;

/** An argument of generate_series: integers exactly, other numbers as doubles; anything else refused. */
function seriesArg(v: SqlValue): bigint | number {
  if (typeof v === 'bigint' || typeof v === 'number') return v;
  if (typeof v === 'string' && DECIMAL.test(v.trim())) return /^[+-]?\d+$/.test(v.trim()) ? BigInt(v.trim()) : Number(v);
  throw unsupported('generate_series() over values other than numbers (timestamps, intervals)');
}

/** generate_series(start, stop, step) over numbers, as PostgreSQL's: NULL gives no rows, a zero step is 22023. */
function* series(start: SqlValue, stop: SqlValue, step: SqlValue): Generator<[bigint | number]> {
  if (start === null || stop === null || step === null || start === undefined || stop === undefined || step === undefined) return;
  const [a, b, s] = [seriesArg(start), seriesArg(stop), seriesArg(step)];
  if (Number(s) === 0) throw new PgError('22023', 'step size cannot equal zero');
  if (typeof a === 'bigint' && typeof b === 'bigint' && typeof s === 'bigint') {
    const count = s > 0n ? (b - a) / s + 1n : (a - b) / -s + 1n;
    if (count > BigInt(SERIES_LIMIT)) throw seriesTooLong();
    for (let v = a; s > 0n ? v <= b : v >= b; v += s) yield [v];
    return;
  }
  const [x, y, d] = [Number(a), Number(b), Number(s)];
  if ((y - x) / d + 1 > SERIES_LIMIT) throw seriesTooLong();
  // each value from the start, not summed step by step: no drift
  for (let i = 0, v = x; d > 0 ? v <= y : v >= y; i++, v = x + i * d) yield [v];
}

const seriesTooLong = () =>
  new PgError('54000', `generate_series() of more than ${SERIES_LIMIT} values is not supported by the SQLite source`, undefined, 'the engine answers a read whole: generate fewer values, or in parts');

// ---------- registration ----------

/** The functions the translator's SQL calls; `put` answers cutover_put (the session's checks for the running statement). */
export function registerChecks(db: Database.Database, put: (v: SqlValue, column: number) => SqlValue, zone: () => Zone = () => UTC_ZONE): void {
  const o = { deterministic: true, safeIntegers: true } as const;
  db.function('cutover_add', o, arith((a, b) => a + b, (a, b) => a + b));
  db.function('cutover_greatest', { ...o, varargs: true }, extreme(1));
  db.function('cutover_least', { ...o, varargs: true }, extreme(-1));
  db.function('cutover_sub', o, arith((a, b) => a - b, (a, b) => a - b));
  db.function('cutover_mul', o, arith((a, b) => a * b, (a, b) => a * b, true));
  db.function('cutover_neg', o, negate);
  db.function('cutover_div', o, divide);
  db.function('cutover_mod', o, remainder);
  db.function('cutover_divisor', o, divisor);
  db.function('cutover_int', o, castInt);
  db.function('cutover_float', o, castFloat);
  db.function('cutover_width', { ...o, varargs: true }, width);
  db.function('cutover_fit', o, fit);
  db.function('cutover_power', o, checkedPower);
  db.function('cutover_exp', o, checkedExp);
  db.function('cutover_math_arg', o, mathArgument);
  db.function('cutover_total', o, checkedTotal);
  db.aggregate('cutover_int_avg', {
    ...o,
    start: () => ({ sum: 0n, count: 0n, ints: true }),
    step: ((st: IntAccum, v: SqlValue) => {
      if (v === null) return st;
      if (typeof v === 'bigint') {
        st.sum += v;
        st.count += 1n;
      } else st.ints = false;
      return st;
    }) as (total: IntAccum, next: unknown) => IntAccum,
    result: intAverage,
  });
  for (const avg of [false, true]) {
    db.aggregate(avg ? 'cutover_float_avg' : 'cutover_float_sum', { ...o, start: () => ({ n: 0, sx: 0, sxx: 0 }), step: accumulate(avg) as (total: FloatAccum, next: unknown) => FloatAccum, result: () => null });
  }
  // date ± integer and date − date (translate.ts, dateArith), on the stored YYYY-MM-DD text
  db.function('cutover_is_date', o, (declared: SqlValue) => (oidOfDeclared(declared === null ? null : String(declared)) === OID.date ? 1n : 0n));
  db.function('cutover_date_add', o, (d: SqlValue, days: SqlValue, sign: bigint) => {
    if (d === null || days === null) return null;
    const n = typeof days === 'bigint' ? Number(days) : Math.trunc(Number(days));
    if (d === 'infinity' || d === '-infinity') return d;
    return dateText(dayNumber(d) + Number(sign) * n);
  });
  db.function('cutover_date_diff', o, (a: SqlValue, b: SqlValue) => (a === null || b === null ? null : BigInt(dayNumber(a) - dayNumber(b))));
  // x::boolean of a value known only when it runs: PostgreSQL's boolean input, or an integer's nonzero
  db.function('cutover_bool', o, (x: SqlValue) => {
    if (x === null) return null;
    const b = typeof x === 'string' || typeof x === 'bigint' || typeof x === 'number' ? asBool(x) : null;
    if (b === null) throw new PgError('22P02', `invalid input syntax for type boolean: "${textOf(x, null, false, zone())}"`);
    return b ? 1n : 0n;
  });
  db.function('cutover_numeric', o, (x: SqlValue, p: bigint, s: bigint) => {
    const v = checkNumeric(x, Number(p), Number(s));
    return typeof v === 'string' ? (FLOAT_WORDS[v.trim().toLowerCase()] ?? v) : v;
  });
  db.function('cutover_put', o, (v: SqlValue, column: bigint) => put(v, Number(column)));
  db.function('cutover_substr', { ...o, varargs: true }, substring);
  db.function('cutover_text', o, (v: SqlValue, declared: SqlValue, output: bigint) => textOf(v, declared === null ? null : String(declared), output !== 0n, zone()));
  db.table(SERIES_FUNCTION, { columns: ['value'], parameters: ['start', 'stop', 'step'], safeIntegers: true, rows: series as (...args: unknown[]) => Generator<unknown[]> });
}

/** A stored date (YYYY-MM-DD) as a Julian day number. */
function dayNumber(d: SqlValue): number {
  // as the engine stores a date: PostgreSQL's text, its era too ('0044-03-15 BC', year n BC being year 1 - n)
  const m = typeof d === 'string' ? /^(\d{4,})-(\d{2})-(\d{2})( BC)?$/.exec(d) : null;
  if (!m) throw new PgError('22007', `invalid input syntax for type date: "${String(d)}"`);
  return date2j(m[4] ? 1 - Number(m[1]) : Number(m[1]), Number(m[2]), Number(m[3]));
}

/** A Julian day number as the stored date text, as PostgreSQL prints it (a year BC with its era); outside PostgreSQL's range 22008. */
function dateText(day: number): string {
  if (day < 0 || day >= END_JULIAN_DAY) throw new PgError('22008', 'date out of range');
  const { year, month, day: d } = j2date(day);
  return storedDate(year, month, d);
}
