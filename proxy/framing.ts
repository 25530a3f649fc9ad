// Message framing for the regular protocol phase: type byte + int32 length.
// Two tools, both copying payloads as little as they can:
// - FrameScanner walks the headers of a byte stream so the caller can forward
//   whole chunks untouched while still seeing every message's type, length and
//   first body byte (ReadyForQuery's transaction status). Used on relayed
//   streams, where per-message objects would be the dominant cost.
// - MessageAssembler yields each complete message as a view into the chunk it
//   arrived in; only a message straddling chunks is copied, once, into a
//   buffer of its size. Used where the proxy must look inside messages
//   (start-up, authentication, routing).

import { isUtf8 } from 'node:buffer';

export class FrameError extends Error {
  constructor(message: string, readonly code = '08P01') {
    super(message);
  }
}

export interface FrameVisitor {
  /** Called once per message header; `first` is the first body byte, or -1 when the body is empty. */
  (type: number, length: number, first: number): void;
}

export class FrameScanner {
  private header = Buffer.alloc(6);
  private headerLen = 0;
  /** Bytes of the current message body still to skip. */
  private remaining = 0;

  constructor(private readonly maxMessageSize: number) {}

  /** True when the stream sits exactly on a message boundary. */
  get atBoundary(): boolean {
    return this.remaining === 0 && this.headerLen === 0;
  }

  scan(chunk: Buffer, visit: FrameVisitor): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.remaining > 0) {
        const skip = Math.min(this.remaining, n - i);
        this.remaining -= skip;
        i += skip;
        continue;
      }
      if (this.headerLen === 0 && n - i >= 6) {
        // fast path: the whole header and the first body byte are in this chunk
        const type = chunk[i]!;
        const length = chunk.readInt32BE(i + 1);
        this.check(type, length);
        visit(type, length, length > 4 ? chunk[i + 5]! : -1);
        const total = 1 + length;
        if (n - i >= total) i += total;
        else {
          this.remaining = total - (n - i);
          i = n;
        }
        continue;
      }
      // slow path: header straddles chunks
      this.header[this.headerLen++] = chunk[i++]!;
      if (this.headerLen === 5) {
        const length = this.header.readInt32BE(1);
        this.check(this.header[0]!, length);
        if (length === 4) {
          visit(this.header[0]!, length, -1);
          this.headerLen = 0;
        }
      } else if (this.headerLen === 6) {
        const length = this.header.readInt32BE(1);
        visit(this.header[0]!, length, this.header[5]!);
        this.headerLen = 0;
        this.remaining = length - 5;
      }
    }
  }

  private check(type: number, length: number): void {
    if (length < 4) throw new FrameError(`invalid message length ${length} for message type "${String.fromCharCode(type)}"`);
    if (length > this.maxMessageSize) {
      throw new FrameError(`message of ${length} bytes exceeds the limit of ${this.maxMessageSize} bytes (max_message_size)`);
    }
  }
}

export interface Message {
  type: number;
  /** The whole message: type byte, length and body. */
  bytes: Buffer;
}

export class MessageAssembler {
  /** The first bytes of a message whose header (type and length) straddles chunks. */
  private head = Buffer.alloc(5);
  private headLen = 0;
  /**
   * A message straddling chunks: its whole size allocated once its header is
   * in, and each chunk's part copied in as it arrives. Collecting the chunks
   * and joining them at the end held the message twice at that moment (a
   * 100 MB drain answer: 200 MB), and copying into a growing buffer copied it
   * again per chunk (a 60 MB row in 64 KB chunks: about 30 GB of copying).
   * Untouched pages of the allocation take no memory, so a header alone
   * reserves nothing real.
   */
  private partial: Buffer | null = null;
  private filled = 0;
  private begun = 0;

  constructor(private readonly maxMessageSize: number) {}

  get buffered(): number {
    return this.partial ? this.filled : this.headLen;
  }

  /** The size of the message being assembled (0: none). */
  get assemblingSize(): number {
    return this.partial?.length ?? 0;
  }

  /** Which message is being assembled: a count of those begun. */
  get assemblingSeq(): number {
    return this.begun;
  }

  /** Feeds a chunk; calls `each` for every complete message, in order. */
  push(chunk: Buffer, each: (m: Message) => void): void {
    let i = 0;
    if (this.headLen) {
      const take = Math.min(5 - this.headLen, chunk.length);
      chunk.copy(this.head, this.headLen, 0, take);
      this.headLen += take;
      i = take;
      if (this.headLen < 5) return;
      this.headLen = 0;
      this.partial = Buffer.allocUnsafe(1 + this.check(this.head[0]!, this.head.readInt32BE(1)));
      this.begun++;
      this.filled = this.head.copy(this.partial, 0);
    }
    if (this.partial) {
      const m = this.partial;
      const take = Math.min(m.length - this.filled, chunk.length - i);
      chunk.copy(m, this.filled, i, i + take);
      this.filled += take;
      i += take;
      if (this.filled < m.length) return;
      this.partial = null;
      this.filled = 0;
      each({ type: m[0]!, bytes: m });
    }
    while (chunk.length - i >= 5) {
      const type = chunk[i]!;
      const total = 1 + this.check(type, chunk.readInt32BE(i + 1));
      if (i + total > chunk.length) {
        this.partial = Buffer.allocUnsafe(total);
        this.begun++;
        this.filled = chunk.copy(this.partial, 0, i);
        return;
      }
      each({ type, bytes: chunk.subarray(i, i + total) });
      i += total;
    }
    if (i < chunk.length) this.headLen = chunk.copy(this.head, 0, i);
  }

  /** The message length, if acceptable. */
  private check(type: number, length: number): number {
    if (length < 4) throw new FrameError(`invalid message length ${length} for message type "${String.fromCharCode(type)}"`);
    if (length > this.maxMessageSize) {
      throw new FrameError(`message of ${length} bytes exceeds the limit of ${this.maxMessageSize} bytes (max_message_size)`);
    }
    return length;
  }
}

/**
 * A Query's text as the client's bytes hold it: UTF-8 when they are valid UTF-8, else one character per byte
 * (`latin1`). A client_encoding such as LATIN1 or WIN1252 (psycopg2's set_client_encoding) sends bytes UTF-8
 * cannot decode, and a Query rebuilt from the replacement characters (a request split at its COMMIT,
 * txn-split.ts) wrote other bytes into the database than the client sent; decoded so, it is written back
 * byte for byte, and its statements end where they did (only quotes, semicolons and the like split a text, all
 * ASCII).
 */
export function queryText(m: Buffer): { sql: string; latin1: boolean } {
  const end = m.indexOf(0, 5);
  if (end < 0) throw new FrameError('invalid string in message');
  const bytes = m.subarray(5, end);
  return isUtf8(bytes) ? { sql: bytes.toString('utf8'), latin1: false } : { sql: bytes.toString('latin1'), latin1: true };
}

/** Reads NUL-terminated strings and integers out of a message body; errors worded as PostgreSQL words them. */
export class BodyReader {
  private i: number;

  constructor(private readonly buf: Buffer, start = 5) {
    this.i = start;
  }

  cstring(): string {
    const end = this.buf.indexOf(0, this.i);
    if (end < 0) throw new FrameError('invalid string in message');
    const s = this.buf.toString('utf8', this.i, end);
    this.i = end + 1;
    return s;
  }

  int32(): number {
    if (this.i + 4 > this.buf.length) throw new FrameError('insufficient data left in message');
    const v = this.buf.readInt32BE(this.i);
    this.i += 4;
    return v;
  }

  int16(): number {
    if (this.i + 2 > this.buf.length) throw new FrameError('insufficient data left in message');
    const v = this.buf.readInt16BE(this.i);
    this.i += 2;
    return v;
  }

  /** A count (of parameters, of format codes): unsigned, as the server reads it, so up to 65535. */
  uint16(): number {
    if (this.i + 2 > this.buf.length) throw new FrameError('insufficient data left in message');
    const v = this.buf.readUInt16BE(this.i);
    this.i += 2;
    return v;
  }

  bytes(n: number): Buffer {
    if (n < 0 || this.i + n > this.buf.length) throw new FrameError('insufficient data left in message');
    const b = this.buf.subarray(this.i, this.i + n);
    this.i += n;
    return b;
  }

  /** The body has been read to its end (PostgreSQL's pq_getmsgend): nothing may follow. */
  end(): void {
    if (this.i !== this.buf.length) throw new FrameError('invalid message format');
  }

  rest(): Buffer {
    const b = this.buf.subarray(this.i);
    this.i = this.buf.length;
    return b;
  }
}

/**
 * Whether PostgreSQL 15 raises an ERROR reading this message's body
 * (postgres.c: a string without its NUL, a count or length past the end,
 * bytes left over, a Describe or Close of no known kind). Only the message
 * types the relay looks into. The server then carries on (skipping to the
 * next Sync in the extended protocol), so the relay must not read such a
 * message as what it claims to be, nor end the session for it: the server
 * is sent it, and answers it.
 */
export function malformed(m: Message): boolean {
  const b = m.bytes;
  const n = b.length;
  switch (m.type) {
    case 0x53: // Sync
    case 0x48: // Flush
      return n !== 5;
    case 0x51: // Query
      return b.indexOf(0, 5) !== n - 1;
  }
  const str = (i: number) => pastString(b, i);
  const skip = (i: number, len: number) => (i < 0 || len < 0 || i + len > n ? -1 : i + len);
  const count = (i: number) => (i < 0 || i + 2 > n ? -1 : b.readUInt16BE(i));
  let i = 5;
  switch (m.type) {
    case 0x50: { // Parse: name, text, parameter types
      i = str(str(i));
      const types = count(i);
      i = types < 0 ? -1 : skip(i + 2, 4 * types);
      break;
    }
    case 0x42: { // Bind: portal, statement, parameter formats, values, result formats
      i = str(str(i));
      const formats = count(i);
      i = formats < 0 ? -1 : skip(i + 2, 2 * formats);
      const values = count(i);
      i = values < 0 ? -1 : i + 2;
      for (let v = 0; v < values && i >= 0; v++) {
        if (i + 4 > n) i = -1;
        else {
          const len = b.readInt32BE(i);
          i = len === -1 ? i + 4 : skip(i + 4, len);
        }
      }
      const results = count(i);
      i = results < 0 ? -1 : skip(i + 2, 2 * results);
      break;
    }
    case 0x45: // Execute: portal, row limit
      i = skip(str(i), 4);
      break;
    case 0x44: // Describe
    case 0x43: // Close
      if (n < 6 || (b[5] !== 0x53 && b[5] !== 0x50)) return true;
      i = str(6);
      break;
    default:
      return false;
  }
  // what is read must end where the message does (pq_getmsgend)
  return i !== n;
}

/** Where a NUL-terminated string at `i` ends (past its NUL), or -1; found, not decoded. -1 in, -1 out. */
function pastString(b: Buffer, i: number): number {
  if (i < 0) return -1;
  const j = b.indexOf(0, i);
  return j < 0 ? -1 : j + 1;
}

/**
 * PostgreSQL's limit on the length of a Close, Describe, Execute, Flush, Sync,
 * CopyDone, CopyFail or Terminate (PQ_SMALL_MESSAGE_LIMIT): past it the server
 * ends the session, as it does for a message it cannot frame.
 */
export function overlong(m: Message): boolean {
  return m.bytes.length > SMALL_MESSAGE_LIMIT + 1 && SMALL_TYPES.has(m.type);
}
const SMALL_MESSAGE_LIMIT = 10_000;
/** C D E H S c f X */
const SMALL_TYPES = new Set([0x43, 0x44, 0x45, 0x48, 0x53, 0x63, 0x66, 0x58]);
