// A client's view of a conversation for the differential wire tests: the
// backend messages a sequence of steps earns, one line each, with what two
// connections to the same server legitimately differ in left out.
import type { Socket } from 'node:net';
import pg from 'pg';
import type { WireStep } from './wire-scenario.ts';

/**
 * One backend message as the comparison sees it. Left out, as they differ between two connections to the same
 * server: an ErrorResponse's or NoticeResponse's F, L and R (the server's source file, line and function, which
 * say nothing to a client and may differ between builds; severity, SQLSTATE, message, detail, hint, position and
 * context stay), a notification's process id, BackendKeyData's key (the driver reads the log-in's before the
 * steps; one later would be compared by its type alone). ParameterStatus is compared whole: a setting's report
 * is the same from any PostgreSQL server of the same version and settings. Rows and descriptions are too: a
 * read served by the new database must answer as the source would (the same rows; OIDs renumbered by the proxy).
 */
export function normalized(type: string, body: Buffer): string {
  if (type === 'E' || type === 'N') {
    const fields: string[] = [];
    for (let i = 0; i < body.length && body[i] !== 0; ) {
      const end = body.indexOf(0, i + 1);
      const code = String.fromCharCode(body[i]!);
      if (code !== 'F' && code !== 'L' && code !== 'R') fields.push(`${code}=${body.toString('utf8', i + 1, end)}`);
      i = end + 1;
    }
    return `${type} ${fields.join(' | ')}`;
  }
  if (type === 'A') return `A ${JSON.stringify(body.subarray(4).toString('utf8'))}`;
  if (type === 'K') return 'K';
  return `${type} ${JSON.stringify(body.toString('latin1'))}`;
}

/** Each step of `steps` sent on a connection to `url` once logged in (the driver steps aside), the answers as lines. */
export async function capture(url: string, steps: WireStep[]): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => undefined);
  await c.connect();
  const s = (c as unknown as { connection: { stream: Socket } }).connection.stream;
  s.removeAllListeners('data');
  const lines: string[] = [];
  let buf: Buffer = Buffer.alloc(0);
  let readies = 0;
  let closed = false;
  let wake = () => undefined as void;
  s.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    let o = 0;
    while (buf.length - o >= 5 && buf.length - o >= 1 + buf.readInt32BE(o + 1)) {
      const len = buf.readInt32BE(o + 1);
      const type = String.fromCharCode(buf[o]!);
      lines.push(normalized(type, buf.subarray(o + 5, o + 1 + len)));
      if (type === 'Z') readies++;
      o += 1 + len;
    }
    buf = buf.subarray(o);
    wake();
  });
  s.on('close', () => {
    closed = true;
    lines.push('[closed]');
    wake();
  });
  const until = async (done: () => boolean, ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (!done() && !closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return done();
  };
  for (const [i, step] of steps.entries()) {
    if (closed) break;
    const from = readies;
    const seen = lines.length;
    s.write(Buffer.concat(step.bytes));
    if (step.readies) {
      if (!(await until(() => readies >= from + step.readies, 5_000))) lines.push(`[step ${i} unanswered]`);
      if (!step.more) continue;
    } else {
      // (no answer at all when an earlier message of the segment failed: the server skips to the Sync. Past the
      // wait the next step goes; an answer that comes later is still read, in order, only the pacing differs)
      await until(() => lines.length > seen, 250);
    }
    // a step ending in Flush, or one earning more than its least: complete once nothing more comes for a while
    for (let n = -1; n !== lines.length; ) {
      n = lines.length;
      await until(() => lines.length > n, 40);
    }
  }
  s.end(Buffer.from([0x58, 0, 0, 0, 4]));
  await until(() => closed, 1_000);
  s.destroy();
  return lines;
}

/** Where `got` first differs from `want`, with a few lines around it; null if they are the same. */
export function firstDifference(want: string[], got: string[]): string | null {
  let i = 0;
  while (i < want.length && i < got.length && want[i] === got[i]) i++;
  if (i === want.length && i === got.length) return null;
  const around = (xs: string[]) => xs.slice(Math.max(0, i - 4), i + 4).map((l, k) => `${k + Math.max(0, i - 4) === i ? '>' : ' '} ${l.slice(0, 300)}`).join('\n');
  return `at message ${i}\n-- direct:\n${around(want)}\n-- proxied:\n${around(got)}`;
}

