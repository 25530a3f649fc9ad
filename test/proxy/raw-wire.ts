// Hand-made bytes for the cases no well-behaved client produces.
import net, { type Socket } from 'node:net';
import pg from 'pg';

export interface WireReply {
  bytes: Buffer;
  /** Fields of the first ErrorResponse, if any (S, C, M …). */
  error: Record<string, string> | null;
  closed: boolean;
}

/** Send bytes, collect everything until the server closes (or `waitMs` passes). */
export function exchange(port: number, payload: Buffer | Buffer[], waitMs = 3_000): Promise<WireReply> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1');
    let closed = false;
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      const bytes = Buffer.concat(chunks);
      resolve({ bytes, error: firstError(bytes), closed });
    };
    const timer = setTimeout(finish, waitMs);
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      finish();
    });
    s.on('connect', () => {
      for (const p of Array.isArray(payload) ? payload : [payload]) s.write(p);
    });
  });
}

export function firstError(bytes: Buffer): Record<string, string> | null {
  let i = 0;
  // a leading single 'N'/'S' byte answers an SSLRequest
  while (i + 5 <= bytes.length) {
    const type = bytes[i]!;
    const len = bytes.readInt32BE(i + 1);
    if (type === 0x45) {
      const out: Record<string, string> = {};
      let j = i + 5;
      while (j < i + 1 + len && bytes[j] !== 0) {
        const end = bytes.indexOf(0, j + 1);
        out[String.fromCharCode(bytes[j]!)] = bytes.toString('utf8', j + 1, end);
        j = end + 1;
      }
      return out;
    }
    i += 1 + len;
  }
  return null;
}

export function startupPacket(params: Record<string, string>, version = 196608): Buffer {
  const body = Buffer.concat([...Object.entries(params).flatMap(([k, v]) => [Buffer.from(k + '\0'), Buffer.from(v + '\0')]), Buffer.from([0])]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(version, 4);
  return Buffer.concat([head, body]);
}

// ---- after log-in: a driver logs in, then steps aside for hand-made messages ----

export function msg(type: string, ...parts: (string | Buffer)[]): Buffer {
  const body = Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p + '\0') : p)));
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}
export const int16 = (n: number) => Buffer.from([n >> 8, n & 255]);
export const int32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
export const parse = (text: string) => msg('P', '', text, int16(0));
export const bind = () => msg('B', '', '', int16(0), int16(0), int16(0));
export const execute = () => msg('E', '', int32(0));
export const query = (text: string) => msg('Q', text);
export const sync = () => msg('S');

/**
 * The answers to `messages`, sent at once on a logged-in connection to `url` (the driver logs in, then steps
 * aside), one word each (`T D:5 C:SELECT 1 Z:I` …); read until `readies` ReadyForQuery or 1.5 s.
 */
export async function exchangeAfterLogin(url: string, messages: Buffer[], readies: number): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  const s = (c as unknown as { connection: { stream: Socket } }).connection.stream;
  s.removeAllListeners('data');
  return new Promise((resolve) => {
    const words: string[] = [];
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(words.join(' '));
    };
    const timer = setTimeout(done, 1_500);
    s.on('close', () => {
      words.push('[closed]');
      done();
    });
    s.on('data', messagesOf((type, body) => {
      const w = word(type, body);
      if (w) words.push(w);
      if (type === 'Z' && ++seen === readies) done();
    }));
    s.write(Buffer.concat(messages));
  });
}

/** A 'data' listener that calls `each` for every whole backend message, its type and body, as they complete. */
function messagesOf(each: (type: string, body: Buffer) => void): (d: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (d) => {
    buf = Buffer.concat([buf, d]);
    let o = 0;
    while (buf.length - o >= 5 && buf.length - o >= 1 + buf.readInt32BE(o + 1)) {
      const type = String.fromCharCode(buf[o]!);
      const body = buf.subarray(o + 5, o + 1 + buf.readInt32BE(o + 1));
      o += 1 + body.length + 4;
      each(type, body);
    }
    buf = buf.subarray(o);
  };
}

/** One backend message as a word of exchangeAfterLogin's answer (null: ParameterStatus and notices, left out). */
function word(type: string, body: Buffer): string | null {
  if (type === 'E') return `E:${/C([0-9A-Z]{5})\0/.exec(body.toString('latin1'))?.[1]}:${body.toString('latin1').includes('SFATAL') ? 'FATAL' : 'ERROR'}`;
  if (type === 'C') return `C:${body.toString('utf8', 0, body.length - 1)}`;
  if (type === 'Z') return `Z:${String.fromCharCode(body[0]!)}`;
  if (type === 'D') return `D:${body.toString('utf8', 6)}`;
  return type !== 'S' && type !== 'N' ? type : null;
}

/**
 * A conversation in steps on a logged-in connection to `url`: each step's messages go once the answer to the step
 * before has shown a message of the type it waits for (`until`: 'T' after a Parse, Describe and Flush, 'Z' after
 * a Sync), as a driver that waits for a Describe's answer before it binds (asyncpg). The answer to each step, in
 * exchangeAfterLogin's words; a step not answered so within 3 s ends the conversation there.
 */
export async function stepsAfterLogin(url: string, steps: { messages: Buffer[]; until: string }[]): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  const s = (c as unknown as { connection: { stream: Socket } }).connection.stream;
  s.removeAllListeners('data');
  const answers: string[][] = [];
  let wake: (() => void) | null = null;
  let waitingFor = '';
  s.on('data', messagesOf((type, body) => {
    const w = word(type, body);
    if (w) answers.at(-1)?.push(w);
    if (type === waitingFor) wake?.();
  }));
  try {
    for (const step of steps) {
      answers.push([]);
      waitingFor = step.until;
      const answered = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 3_000);
        wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      s.write(Buffer.concat(step.messages));
      if (!(await answered)) break;
    }
  } finally {
    s.destroy();
  }
  return answers.map((a) => a.join(' '));
}
