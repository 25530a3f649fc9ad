// The bytes of a text value as PostgreSQL takes them from a client: valid
// UTF-8 with no NUL (pg_verifymbstr), else 22021. SQLite keeps any bytes, so
// without this a value PostgreSQL refuses was stored and acknowledged, and
// its change then failed on the new database for good.
import { isUtf8 } from 'node:buffer';
import { PgError } from './errors.ts';

/** The UTF-8 sequence length a lead byte announces, 0 for a byte no sequence starts with. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** PostgreSQL's report_invalid_encoding: the bytes from where the sequence goes wrong. */
function invalidEncoding(b: Buffer, at: number): PgError {
  const n = Math.max(1, Math.min(sequenceLength(b[at]!) || 1, b.length - at));
  const bytes = [...b.subarray(at, at + n)].map((x) => `0x${x.toString(16).padStart(2, '0')}`).join(' ');
  return new PgError('22021', `invalid byte sequence for encoding "UTF8": ${bytes}`);
}

/** Where `b` stops being valid UTF-8 (NUL included, as PostgreSQL counts it). */
function firstInvalid(b: Buffer): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    if (c === 0) return i;
    const n = sequenceLength(c);
    if (n === 0 || i + n > b.length) return i;
    for (let k = 1; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    // overlong three-byte forms, UTF-16 surrogates, and past U+10FFFF
    if ((c === 0xe0 && b[i + 1]! < 0xa0) || (c === 0xed && b[i + 1]! > 0x9f) || (c === 0xf0 && b[i + 1]! < 0x90) || (c === 0xf4 && b[i + 1]! > 0x8f)) return i;
    i += n;
  }
  return -1;
}

/** `b` as a string, or 22021 where PostgreSQL would refuse it. */
export function textInput(b: Buffer): string {
  if (b.indexOf(0) < 0 && isUtf8(b)) return b.toString('utf8');
  throw invalidEncoding(b, Math.max(0, firstInvalid(b)));
}

