// Backend messages the SQLite engine writes after start-up (results, completions,
// errors). Start-up messages and ErrorResponse come from ../messages.ts.
import { errorResponse, type ErrorObject } from '../messages.ts';

export interface Field {
  name: string;
  oid: number;
  /** typlen as pg_type has it (-1 variable). */
  size: number;
  /** 0 text, 1 binary. */
  format: number;
  /** atttypmod as PostgreSQL reports it (numeric(p,s): ((p << 16) | s) + 4); absent: -1. */
  typmod?: number;
  /** A numeric without typmod printed with this many decimals (sum of numeric(p,s): s); not sent. */
  scale?: number;
}

function frame(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

const empty = (type: number): Buffer => Buffer.from([type, 0, 0, 0, 4]);

export const PARSE_COMPLETE = empty(0x31); // 1
export const BIND_COMPLETE = empty(0x32); // 2
export const CLOSE_COMPLETE = empty(0x33); // 3
export const NO_DATA = empty(0x6e); // n
export const EMPTY_QUERY = empty(0x49); // I
export const PORTAL_SUSPENDED = empty(0x73); // s

export function commandComplete(tag: string): Buffer {
  return frame(0x43 /* C */, Buffer.from(tag + '\0', 'utf8'));
}

export function rowDescription(fields: Field[]): Buffer {
  const names = fields.map((f) => Buffer.from(f.name + '\0', 'utf8'));
  let len = 2;
  for (const n of names) len += n.length + 18;
  const body = Buffer.allocUnsafe(len);
  body.writeInt16BE(fields.length, 0);
  let i = 2;
  fields.forEach((f, k) => {
    i += names[k]!.copy(body, i);
    body.writeInt32BE(0, i); // table oid
    body.writeInt16BE(0, i + 4); // column number
    body.writeInt32BE(f.oid, i + 6);
    body.writeInt16BE(f.size, i + 10);
    body.writeInt32BE(f.typmod ?? -1, i + 12);
    body.writeInt16BE(f.format, i + 16);
    i += 18;
  });
  return frame(0x54 /* T */, body);
}

export function parameterDescription(oids: number[]): Buffer {
  const body = Buffer.allocUnsafe(2 + 4 * oids.length);
  body.writeInt16BE(oids.length, 0);
  oids.forEach((o, k) => body.writeUInt32BE(o >>> 0, 2 + 4 * k));
  return frame(0x74 /* t */, body);
}

/** One DataRow; each cell already encoded (null for SQL NULL). */
export function dataRow(cells: (Buffer | null)[]): Buffer {
  let len = 2;
  for (const c of cells) len += 4 + (c ? c.length : 0);
  const out = Buffer.allocUnsafe(5 + len);
  out[0] = 0x44; // D
  out.writeInt32BE(4 + len, 1);
  out.writeInt16BE(cells.length, 5);
  let i = 7;
  for (const c of cells) {
    if (c === null) {
      out.writeInt32BE(-1, i);
      i += 4;
    } else {
      out.writeInt32BE(c.length, i);
      i += 4 + c.copy(out, i + 4);
    }
  }
  return out;
}

export function errorMessage(code: string, message: string, detail?: string, hint?: string, object?: ErrorObject): Buffer {
  return errorResponse({ severity: 'ERROR', code, message, detail, hint, ...object });
}

export function noticeMessage(code: string, message: string): Buffer {
  return errorResponse({ severity: 'WARNING', code, message }, 'N');
}

/** CopyInResponse ('G') / CopyOutResponse ('H'): text format, every column text. */
export function copyResponse(type: 'in' | 'out', columns: number): Buffer {
  const body = Buffer.alloc(3 + 2 * columns);
  body.writeInt16BE(columns, 1);
  return frame(type === 'in' ? 0x47 : 0x48, body);
}

export function copyData(data: Buffer): Buffer {
  return frame(0x64 /* d */, data);
}

export const COPY_DONE = empty(0x63); // c
