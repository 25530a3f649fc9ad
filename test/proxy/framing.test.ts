// MessageAssembler: whatever way a byte stream is cut into chunks, the same
// messages come out, whole and in order; oversized and malformed lengths are
// refused with 08P01.
import { describe, expect, it } from 'vitest';
import { FrameError, MessageAssembler } from '../../proxy/framing.ts';

function message(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

/** A deterministic generator (mulberry32): the cuts are the same on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('MessageAssembler', () => {
  it('yields the same messages however the stream is cut', () => {
    const sizes = [0, 1, 2, 3, 7, 100, 65_536, 300_000, 0, 5];
    const messages = sizes.map((n, k) => message(0x44, Buffer.alloc(n, k + 1)));
    const stream = Buffer.concat(messages);
    for (let seed = 1; seed <= 40; seed++) {
      const next = rng(seed);
      const out: Buffer[] = [];
      const asm = new MessageAssembler(1 << 20);
      for (let i = 0; i < stream.length; ) {
        // mostly small cuts (header bytes split too), sometimes large ones
        const n = Math.max(1, Math.floor(next() < 0.8 ? next() * 9 : next() * 200_000));
        asm.push(stream.subarray(i, i + n), (m) => out.push(Buffer.from(m.bytes)));
        i += n;
      }
      expect(out.length, `seed ${seed}`).toBe(messages.length);
      out.forEach((m, k) => expect(m.equals(messages[k]!), `seed ${seed}, message ${k}`).toBe(true));
      expect(asm.buffered).toBe(0);
    }
  });

  it('a large message in many small chunks comes out whole, once', () => {
    const big = message(0x44, Buffer.alloc(20 << 20, 9));
    const asm = new MessageAssembler(64 << 20);
    const out: Buffer[] = [];
    for (let i = 0; i < big.length; i += 65_536) asm.push(big.subarray(i, i + 65_536), (m) => out.push(m.bytes));
    expect(out.length).toBe(1);
    expect(out[0]!.equals(big)).toBe(true);
  });

  it('refuses a length over the limit as soon as the header is in, and a length under 4', () => {
    const asm = new MessageAssembler(1000);
    const head = Buffer.from([0x51, 0, 0, 0x10, 0]);
    asm.push(head.subarray(0, 3), () => undefined);
    expect(() => asm.push(head.subarray(3), () => undefined)).toThrow(FrameError);
    expect(() => new MessageAssembler(1000).push(Buffer.from([0x51, 0, 0, 0, 3]), () => undefined)).toThrow(/invalid message length 3/);
  });
});
