// Hand-made bytes for the cases no well-behaved client produces.
import net from 'node:net';

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
