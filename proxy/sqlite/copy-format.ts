// COPY's text and CSV formats as PostgreSQL reads them (COPY … FROM STDIN) and
// writes them (COPY … TO STDOUT). The reader is fed CopyData payloads split
// anywhere, a multi-byte character or an escape included, and hands out whole
// rows as they complete, so a COPY of any size is held one row at a time.
import { PgError } from './errors.ts';

export interface CopyOptions {
  format: 'text' | 'csv';
  /** One byte. */
  delimiter: string;
  /** The text that stands for NULL (text: `\N`, CSV: the empty string). */
  null: string;
  /** true: the first line names the columns (skipped); 'match': and must name them as the COPY does. */
  header: boolean | 'match';
  quote: string;
  escape: string;
  /** COPY TO, CSV: columns always quoted ('*': every one). */
  forceQuote: string[] | '*';
  /** COPY FROM, CSV: columns whose unquoted null text is the text, not NULL. */
  forceNotNull: string[];
  /** COPY FROM, CSV: columns whose quoted null text is NULL too. */
  forceNull: string[];
}

const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;
const DOT = 0x2e;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeField(bytes: Uint8Array): string {
  if (bytes.includes(0)) throw new PgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00');
  try {
    return utf8.decode(bytes);
  } catch {
    throw new PgError('22021', 'invalid byte sequence for encoding "UTF8"');
  }
}

/** One row of COPY FROM data: its fields (null for NULL) and its line. */
export interface CopyRow {
  fields: (string | null)[];
  line: number;
}

/** A COPY FROM input error with the line PostgreSQL would name in its CONTEXT. */
export class CopyLineError extends PgError {
  constructor(code: string, message: string, readonly line: number) {
    super(code, message);
  }
}

/**
 * Splits COPY FROM data into rows of fields (null for NULL). push() takes a
 * CopyData payload and returns the rows it completed; end() the last row
 * without a line end, if any. After the end marker (`\.` on a line of its
 * own) the rest of the data is ignored, as PostgreSQL ignores it.
 */
export class CopyReader {
  private carry: Buffer = Buffer.alloc(0);
  /** How far `carry` has been scanned for the end of its row, and the CSV quote state there. */
  private scanned = 0;
  private inQuote = false;
  private lineNo = 0;
  private headerLeft: boolean;
  private finished = false;
  /** The first line's end decides the others' (\n or \r\n), as in PostgreSQL. */
  private eol: 'lf' | 'crlf' | null = null;
  private readonly delim: number;
  private readonly quote: number;
  private readonly escape: number;

  constructor(private readonly opts: CopyOptions, private readonly columns: string[]) {
    this.delim = opts.delimiter.charCodeAt(0);
    this.quote = opts.quote.charCodeAt(0);
    this.escape = opts.escape.charCodeAt(0);
    this.headerLeft = opts.header !== false;
  }

  /** The line being read (1-based), for error context. */
  get line(): number {
    return this.lineNo;
  }

  push(chunk: Buffer): CopyRow[] {
    if (this.finished) return [];
    this.carry = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const rows: CopyRow[] = [];
    let start = 0;
    for (;;) {
      const end = this.findLineEnd(start);
      if (end < 0) break;
      const next = end + 1;
      let stop = end;
      if (this.eol === null) this.eol = stop > start && this.carry[stop - 1] === CR ? 'crlf' : 'lf';
      if (this.eol === 'crlf' && stop > start && this.carry[stop - 1] === CR) stop--;
      const row = this.row(this.carry.subarray(start, stop));
      start = next;
      this.scanned = start;
      if (row === 'end') {
        this.finished = true;
        break;
      }
      if (row) rows.push({ fields: row, line: this.lineNo });
    }
    this.carry = this.finished ? Buffer.alloc(0) : Buffer.from(this.carry.subarray(start));
    this.scanned = Math.max(0, this.scanned - start);
    return rows;
  }

  /** At CopyDone: the last line, if the data did not end with a line end. */
  end(): CopyRow[] {
    if (this.finished || !this.carry.length) return [];
    if (this.opts.format === 'csv' && this.inQuote) {
      this.lineNo++;
      throw new CopyLineError('22P04', 'unterminated CSV quoted field', this.lineNo);
    }
    const row = this.row(this.carry);
    this.carry = Buffer.alloc(0);
    return row && row !== 'end' ? [{ fields: row, line: this.lineNo }] : [];
  }

  /** The index of the LF that ends the row starting at `start`, -1 if not yet in the data. */
  private findLineEnd(start: number): number {
    const b = this.carry;
    let i = Math.max(start, this.scanned);
    if (this.opts.format === 'text') {
      for (; i < b.length; i++) {
        const c = b[i]!;
        if (c === LF) return i;
        // an escaped character, a line feed included, belongs to the field
        if (c === BACKSLASH) {
          if (i + 1 >= b.length) break;
          i++;
        }
      }
      this.scanned = i;
      return -1;
    }
    for (; i < b.length; i++) {
      const c = b[i]!;
      if (this.inQuote) {
        if (c === this.escape && this.escape !== this.quote && i + 1 < b.length && (b[i + 1] === this.quote || b[i + 1] === this.escape)) i++;
        else if (c === this.escape && this.escape !== this.quote && i + 1 >= b.length) break;
        else if (c === this.quote) this.inQuote = false;
      } else if (c === this.quote) this.inQuote = true;
      else if (c === LF) return i;
    }
    this.scanned = i;
    return -1;
  }

  /** One line's fields; null for the header line, 'end' for the end marker. */
  private row(line: Buffer): (string | null)[] | null | 'end' {
    this.lineNo++;
    this.inQuote = false;
    if (line.length === 2 && line[0] === BACKSLASH && line[1] === DOT) return 'end';
    if (this.headerLeft) {
      this.headerLeft = false;
      if (this.opts.header === 'match') this.matchHeader(line);
      return null;
    }
    const fields = this.opts.format === 'text' ? this.textFields(line) : this.csvFields(line);
    if (fields.length > this.columns.length) throw new CopyLineError('22P04', 'extra data after last expected column', this.lineNo);
    if (fields.length < this.columns.length) {
      throw new CopyLineError('22P04', `missing data for column "${this.columns[fields.length]}"`, this.lineNo);
    }
    return fields;
  }

  private matchHeader(line: Buffer): void {
    const names = this.opts.format === 'text' ? this.textFields(line) : this.csvFields(line, true);
    if (names.length !== this.columns.length) {
      throw new CopyLineError('22P04', `wrong number of fields in header line: got ${names.length}, expected ${this.columns.length}`, this.lineNo);
    }
    names.forEach((n, i) => {
      if (n !== this.columns[i]) {
        throw new CopyLineError('22P04', `column name mismatch in header line field ${i + 1}: got "${n ?? 'null value'}", expected "${this.columns[i]}"`, this.lineNo);
      }
    });
  }

  private textFields(line: Buffer): (string | null)[] {
    const out: (string | null)[] = [];
    const nullText = Buffer.from(this.opts.null, 'utf8');
    let fieldStart = 0;
    let bytes: number[] = [];
    let escaped = false;
    const finish = (end: number) => {
      // NULL is matched against the field as written, before its escapes are read
      const raw = line.subarray(fieldStart, end);
      out.push(raw.equals(nullText) ? null : escaped ? decodeField(Uint8Array.from(bytes)) : decodeField(raw));
      bytes = [];
      escaped = false;
    };
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (c === this.delim) {
        finish(i);
        fieldStart = i + 1;
        continue;
      }
      if (c !== BACKSLASH || i + 1 >= line.length) {
        bytes.push(c);
        continue;
      }
      escaped = true;
      const e = line[++i]!;
      switch (e) {
        case 0x62: bytes.push(8); break; // \b
        case 0x66: bytes.push(12); break; // \f
        case 0x6e: bytes.push(LF); break; // \n
        case 0x72: bytes.push(CR); break; // \r
        case 0x74: bytes.push(9); break; // \t
        case 0x76: bytes.push(11); break; // \v
        case 0x78: { // \x: one or two hex digits, else the letter x
          let v = 0;
          let n = 0;
          while (n < 2 && i + 1 < line.length && isHex(line[i + 1]!)) v = v * 16 + parseInt(String.fromCharCode(line[++i]!), 16), n++;
          bytes.push(n ? v & 0xff : e);
          break;
        }
        default:
          if (e >= 0x30 && e <= 0x37) { // octal: one to three digits
            let v = e - 0x30;
            for (let n = 1; n < 3 && i + 1 < line.length && line[i + 1]! >= 0x30 && line[i + 1]! <= 0x37; n++) v = v * 8 + (line[++i]! - 0x30);
            bytes.push(v & 0xff);
          } else bytes.push(e);
      }
    }
    finish(line.length);
    return out;
  }

  private csvFields(line: Buffer, header = false): (string | null)[] {
    const out: (string | null)[] = [];
    const nullText = this.opts.null;
    let i = 0;
    for (;;) {
      let bytes: number[] = [];
      let quoted = false;
      let rawStart = i;
      let sawQuote = false;
      for (; i < line.length; i++) {
        const c = line[i]!;
        if (quoted) {
          if (c === this.escape && i + 1 < line.length && (line[i + 1] === this.quote || (this.escape !== this.quote && line[i + 1] === this.escape))) {
            bytes.push(line[++i]!);
          } else if (c === this.quote) quoted = false;
          else bytes.push(c);
        } else if (c === this.quote) {
          quoted = true;
          sawQuote = true;
        } else if (c === this.delim) break;
        else bytes.push(c);
      }
      if (quoted) throw new CopyLineError('22P04', 'unterminated CSV quoted field', this.lineNo);
      const text = decodeField(Uint8Array.from(bytes));
      const column = this.columns[out.length];
      const raw = line.subarray(rawStart, i).toString('utf8');
      let value: string | null = text;
      if (!header && column !== undefined) {
        // unquoted text equal to the null string is NULL; FORCE_NOT_NULL keeps it, FORCE_NULL makes a quoted one NULL too
        if (!sawQuote && raw === nullText && !this.opts.forceNotNull.includes(column)) value = null;
        else if (sawQuote && text === nullText && this.opts.forceNull.includes(column)) value = null;
      }
      out.push(value);
      if (i >= line.length) break;
      i++; // the delimiter
      rawStart = i;
    }
    return out;
  }
}

const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

const TEXT_ESCAPES: Record<string, string> = { '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };

/** One row of COPY TO output, its line end included; values are their text forms, null for NULL. */
export function copyLine(values: (string | null)[], columns: string[], opts: CopyOptions): string {
  if (opts.format === 'text') {
    return values.map((v) => (v === null ? opts.null : escapeText(v, opts.delimiter))).join(opts.delimiter) + '\n';
  }
  return values.map((v, i) => (v === null ? opts.null : csvValue(v, opts, opts.forceQuote === '*' || opts.forceQuote.includes(columns[i]!)))).join(opts.delimiter) + '\n';
}

/** The header line of COPY TO … HEADER. */
export function copyHeader(columns: string[], opts: CopyOptions): string {
  if (opts.format === 'text') return columns.map((c) => escapeText(c, opts.delimiter)).join(opts.delimiter) + '\n';
  return columns.map((c) => csvValue(c, opts, false)).join(opts.delimiter) + '\n';
}

function escapeText(v: string, delimiter: string): string {
  let out = '';
  for (const ch of v) out += TEXT_ESCAPES[ch] ?? (ch === delimiter ? '\\' + ch : ch);
  return out;
}

function csvValue(v: string, opts: CopyOptions, force: boolean): string {
  const needs = force || v === opts.null || v === '\\.' || v.includes(opts.delimiter) || v.includes(opts.quote) || v.includes('\n') || v.includes('\r');
  if (!needs) return v;
  let out = opts.quote;
  for (const ch of v) out += ch === opts.quote || ch === opts.escape ? opts.escape + ch : ch;
  return out + opts.quote;
}
