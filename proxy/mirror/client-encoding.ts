// A session's drain runs on the client's own source connection, so the
// server sends the drained rows in the client's client_encoding: a LATIN1 or
// WIN1252 client (psycopg2's set_client_encoding, a legacy application) got
// them in that encoding, which the proxy read as UTF-8 and applied to the
// mirror as replacement characters. They are decoded in the encoding the
// server last reported for the connection.
import { TextDecoder } from 'node:util';

/** PostgreSQL's client encodings by the WHATWG labels Node's TextDecoder knows (UTF8 and SQL_ASCII: as UTF-8). */
const LABELS: Record<string, string> = {
  WIN1250: 'windows-1250', WIN1251: 'windows-1251', WIN1253: 'windows-1253', WIN1254: 'windows-1254',
  WIN1255: 'windows-1255', WIN1256: 'windows-1256', WIN1257: 'windows-1257', WIN1258: 'windows-1258', WIN874: 'windows-874', WIN866: 'ibm866',
  LATIN2: 'iso-8859-2', LATIN3: 'iso-8859-3', LATIN4: 'iso-8859-4', LATIN5: 'windows-1254', LATIN6: 'iso-8859-10', LATIN7: 'iso-8859-13',
  LATIN8: 'iso-8859-14', LATIN9: 'iso-8859-15', ISO_8859_5: 'iso-8859-5', ISO_8859_6: 'iso-8859-6', ISO_8859_7: 'iso-8859-7', ISO_8859_8: 'iso-8859-8',
  KOI8R: 'koi8-r', KOI8U: 'koi8-u', SJIS: 'shift_jis', SHIFT_JIS_2004: 'shift_jis', EUC_JP: 'euc-jp', EUC_JIS_2004: 'euc-jp', EUC_KR: 'euc-kr', UHC: 'euc-kr',
  BIG5: 'big5', GBK: 'gbk', EUC_CN: 'gbk', GB18030: 'gb18030',
};

/** Text of `len` bytes at `at` in `b`. */
export type Decode = (b: Buffer, at: number, len: number) => string;

const cache = new Map<string, Decode | null>();

/**
 * WIN1252's characters at 0x80–0x9F (Latin-1 elsewhere), by hand: Node 20's TextDecoder('windows-1252')
 * decodes them as Latin-1's control characters (0x80 gave U+0080, not the euro sign).
 */
const WIN1252_HIGH = '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ';
function win1252(b: Buffer, at: number, len: number): string {
  const s = b.toString('latin1', at, at + len);
  return /[\u0080-\u009f]/.test(s) ? s.replace(/[\u0080-\u009f]/g, (c) => WIN1252_HIGH[c.charCodeAt(0) - 0x80]!) : s;
}

const canonical = (encoding: string | undefined) => (encoding ?? 'UTF8').toUpperCase().replace(/-/g, '_');

/** Whether text the server sends in client_encoding `encoding` (as reported) is read as UTF-8. */
export function isUtf8(encoding: string | undefined): boolean {
  // the usual answer without a string made: this is asked for every drained row
  if (encoding === undefined || encoding === 'UTF8') return true;
  const name = canonical(encoding);
  return name === 'UTF8' || name === 'UNICODE' || name === 'SQL_ASCII';
}

/** How to read text the server sends in client_encoding `encoding` (as reported); null: as UTF-8. */
export function decoderFor(encoding: string | undefined): Decode | null {
  if (isUtf8(encoding)) return null;
  const name = canonical(encoding);
  let d = cache.get(name);
  if (d !== undefined) return d;
  // LATIN1 is ISO-8859-1 byte for byte (WHATWG's 'latin1' label means windows-1252)
  if (name === 'LATIN1') d = (b, at, len) => b.toString('latin1', at, at + len);
  else if (name === 'WIN1252') d = win1252;
  else {
    const label = LABELS[name];
    let decoder: TextDecoder | null = null;
    try {
      decoder = label ? new TextDecoder(label) : null;
    } catch {
      decoder = null;
    }
    d = decoder ? (b, at, len) => decoder.decode(b.subarray(at, at + len)) : null;
  }
  cache.set(name, d);
  return d;
}

/**
 * `sql` whose only characters past ASCII stand in JSON literals (the proxy's dirty-key and put-back statements),
 * with those written as JSON \u escapes: the same values to the server's JSON parser, and bytes that mean the same
 * in any client_encoding (sent as UTF-8 on a LATIN1 session, 'é' was read as 'Ã©': a key recorded under another
 * name, never re-synced).
 */
export function jsonAscii(sql: string): string {
  return /[^\x00-\x7f]/.test(sql) ? sql.replace(/[^\x00-\x7f]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) : sql;
}
