// Backend (server → client) messages the proxy itself has to speak: during
// start-up and authentication, and for its own errors. Everything else on the
// wire is relayed as the servers produced it.

export const PROTOCOL_3_0 = 196608;
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;

export type Severity = 'ERROR' | 'FATAL' | 'NOTICE' | 'WARNING';

/** What an ErrorResponse names besides its text: the object at fault. */
export interface ErrorObject {
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  /** The CONTEXT line (W): where in a COPY's data, say. */
  where?: string;
}

export interface ErrorFields extends ErrorObject {
  severity: Severity;
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

function message(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

function cstr(s: string): Buffer {
  return encodedCstr(s, 'utf8');
}

function encodedCstr(s: string, encoding: 'utf8' | 'latin1'): Buffer {
  // a NUL inside (a client's text quoted in an error) would end the field early and break the message's framing
  return Buffer.from((s.includes('\0') ? s.replace(/\0/g, '\\0') : s) + '\0', encoding);
}

/** ErrorResponse ('E') or NoticeResponse ('N') with the fields PostgreSQL clients read. */
export function errorResponse(f: ErrorFields, type: 'E' | 'N' = 'E'): Buffer {
  const parts = [Buffer.from('S'), cstr(f.severity), Buffer.from('V'), cstr(f.severity), Buffer.from('C'), cstr(f.code), Buffer.from('M'), cstr(f.message)];
  if (f.detail) parts.push(Buffer.from('D'), cstr(f.detail));
  if (f.hint) parts.push(Buffer.from('H'), cstr(f.hint));
  if (f.schema) parts.push(Buffer.from('s'), cstr(f.schema));
  if (f.table) parts.push(Buffer.from('t'), cstr(f.table));
  if (f.column) parts.push(Buffer.from('c'), cstr(f.column));
  if (f.constraint) parts.push(Buffer.from('n'), cstr(f.constraint));
  if (f.where) parts.push(Buffer.from('W'), cstr(f.where));
  parts.push(Buffer.from([0]));
  return message(type, Buffer.concat(parts));
}

export function fatal(code: string, msg: string, detail?: string): Buffer {
  return errorResponse({ severity: 'FATAL', code, message: msg, detail });
}

export function authRequest(code: number, extra: Buffer = Buffer.alloc(0)): Buffer {
  const body = Buffer.allocUnsafe(4 + extra.length);
  body.writeInt32BE(code, 0);
  extra.copy(body, 4);
  return message('R', body);
}

export const authOk = (): Buffer => authRequest(0);
export const authCleartext = (): Buffer => authRequest(3);
export const authMd5 = (salt: Buffer): Buffer => authRequest(5, salt);
export const authSasl = (mechanisms: string[]): Buffer => authRequest(10, Buffer.concat([...mechanisms.map(cstr), Buffer.from([0])]));
export const authSaslContinue = (data: string): Buffer => authRequest(11, Buffer.from(data, 'utf8'));
export const authSaslFinal = (data: string): Buffer => authRequest(12, Buffer.from(data, 'utf8'));

export function parameterStatus(name: string, value: string): Buffer {
  return message('S', Buffer.concat([cstr(name), cstr(value)]));
}

export function backendKeyData(pid: number, secret: number): Buffer {
  const body = Buffer.allocUnsafe(8);
  body.writeInt32BE(pid, 0);
  body.writeInt32BE(secret, 4);
  return message('K', body);
}

/** The protocol the server speaks instead (3.`minor`), and the `_pq_.` options it does not know. */
export function negotiateProtocolVersion(minor: number, unknownOptions: string[]): Buffer {
  const head = Buffer.allocUnsafe(8);
  head.writeInt32BE((3 << 16) | minor, 0);
  head.writeInt32BE(unknownOptions.length, 4);
  return message('v', Buffer.concat([head, ...unknownOptions.map(cstr)]));
}

export function readyForQuery(status: 'I' | 'T' | 'E'): Buffer {
  return message('Z', Buffer.from(status));
}

// --- frontend messages the proxy sends to servers as a client ---

export function startupMessage(params: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(params)) parts.push(cstr(k), cstr(v));
  parts.push(Buffer.from([0]));
  const body = Buffer.concat(parts);
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeInt32BE(8 + body.length, 0);
  out.writeInt32BE(PROTOCOL_3_0, 4);
  body.copy(out, 8);
  return out;
}

export function sslRequest(): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeInt32BE(8, 0);
  out.writeInt32BE(SSL_REQUEST, 4);
  return out;
}

export function cancelRequest(pid: number, secret: number): Buffer {
  const out = Buffer.allocUnsafe(16);
  out.writeInt32BE(16, 0);
  out.writeInt32BE(CANCEL_REQUEST, 4);
  out.writeInt32BE(pid, 8);
  out.writeInt32BE(secret, 12);
  return out;
}

export function passwordMessage(data: Buffer | string): Buffer {
  return message('p', typeof data === 'string' ? cstr(data) : data);
}

export function saslInitialResponse(mechanism: string, data: string): Buffer {
  const d = Buffer.from(data, 'utf8');
  const len = Buffer.allocUnsafe(4);
  len.writeInt32BE(d.length, 0);
  return message('p', Buffer.concat([cstr(mechanism), len, d]));
}

/** `latin1`: `sql` holds the client's bytes one character each (framing.ts queryText), written back so. */
export function queryMessage(sql: string, latin1 = false): Buffer {
  return message('Q', encodedCstr(sql, latin1 ? 'latin1' : 'utf8'));
}

/** Parse: a statement (named, or '' for the unnamed one) with its parameter types left to the server. */
/** CopyFail: ends a COPY FROM STDIN the client will not finish (the server answers with an error). */
export function copyFailMessage(reason: string): Buffer {
  return message('f', cstr(reason));
}

export function parseMessage(name: string, sql: string): Buffer {
  return message('P', Buffer.concat([cstr(name), cstr(sql), Buffer.from([0, 0])]));
}

/** Bind of the unnamed portal to a statement, every parameter in text form (null: SQL NULL), text results. */
export function bindMessage(statement: string, params: (string | null)[]): Buffer {
  const values = params.map((p) => (p === null ? null : Buffer.from(p, 'utf8')));
  const nameLen = Buffer.byteLength(statement);
  const len = 4 + 1 + nameLen + 1 + 2 + 2 + values.reduce((n, v) => n + 4 + (v?.length ?? 0), 0) + 2;
  const out = Buffer.allocUnsafe(1 + len);
  out[0] = 0x42;
  out.writeInt32BE(len, 1);
  let i = 5;
  out[i++] = 0; // unnamed portal
  i += out.write(statement, i);
  out[i++] = 0;
  out.writeInt16BE(0, i); // no parameter format codes: all text
  out.writeInt16BE(values.length, i + 2);
  i += 4;
  for (const v of values) {
    out.writeInt32BE(v ? v.length : -1, i);
    i += 4;
    if (v) i += v.copy(out, i);
  }
  out.writeInt16BE(0, i); // results in text
  return out;
}

/**
 * Bind of the unnamed portal to `statement` with one text parameter, the JSON
 * array of `items` (each a JSON text, or its UTF-8 bytes), in pieces: an item
 * that is bytes goes to the socket as the buffer it is, never copied (a
 * drained row of 100 MB was copied twice more, as a string and into the
 * message). No piece but the first begins a message: each begins with '[',
 * ',' or ']', or is an item (a JSON object).
 */
export function bindJsonArray(statement: string, items: readonly (string | Buffer)[]): Buffer[] {
  if (items.every((it) => typeof it === 'string')) return [bindMessage(statement, ['[' + items.join(',') + ']'])];
  let paramLen = 2 + Math.max(0, items.length - 1);
  for (const it of items) paramLen += typeof it === 'string' ? Buffer.byteLength(it) : it.length;
  const nameLen = Buffer.byteLength(statement);
  const headLen = 1 + 4 + 1 + nameLen + 1 + 2 + 2 + 4;
  const head = Buffer.allocUnsafe(headLen);
  head[0] = 0x42;
  head.writeInt32BE(headLen - 1 + paramLen + 2, 1);
  let i = 5;
  head[i++] = 0; // unnamed portal
  i += head.write(statement, i);
  head[i++] = 0;
  head.writeInt16BE(0, i); // no parameter format codes: all text
  head.writeInt16BE(1, i + 2);
  head.writeInt32BE(paramLen, i + 4);
  const out: Buffer[] = [head];
  let text = '[';
  items.forEach((it, k) => {
    if (k) text += ',';
    if (typeof it === 'string') text += it;
    else {
      out.push(Buffer.from(text, 'utf8'), it);
      text = '';
    }
  });
  const tail = Buffer.from(text + ']\0\0', 'utf8'); // the array's end, then no result format codes: text
  out.push(tail);
  return out.filter((b) => b.length > 0);
}

/** Close of a prepared statement ('S') or portal ('P'); closing one that does not exist is no error. */
export function closeMessage(what: 'S' | 'P', name: string): Buffer {
  return message('C', Buffer.concat([Buffer.from(what), cstr(name)]));
}

/** Execute the unnamed portal, all rows. */
export const EXECUTE = Buffer.from([0x45, 0, 0, 0, 9, 0, 0, 0, 0, 0]);
export const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);

export const terminateMessage = (): Buffer => Buffer.from([0x58, 0, 0, 0, 4]);

/** Parse the fields of an ErrorResponse/NoticeResponse body (without type and length). */
export function parseErrorFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const code = String.fromCharCode(body[i]!);
    const end = body.indexOf(0, i + 1);
    if (end < 0) break;
    out[code] = body.toString('utf8', i + 1, end);
    i = end + 1;
  }
  return out;
}
