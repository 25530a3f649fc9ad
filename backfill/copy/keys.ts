// Keyset positions: the last key a batch copied, kept in checkpoints and used
// as the next batch's lower bound. SQLite keys keep their storage class
// (integer as bigint, real, text, blob); PostgreSQL keys travel as text and
// are cast back to the column's type.

export type KeyValue = bigint | number | string | Buffer | null;
export type Key = KeyValue[];

type Tagged = { i: string } | { r: number } | { s: string } | { b: string } | null;

export function encodeKey(k: Key): string {
  return JSON.stringify(k.map((v): Tagged => {
    if (v === null) return null;
    if (typeof v === 'bigint') return { i: v.toString() };
    if (typeof v === 'number') return { r: v };
    if (Buffer.isBuffer(v)) return { b: v.toString('hex') };
    return { s: v };
  }));
}

export function decodeKey(text: string): Key {
  return (JSON.parse(text) as Tagged[]).map((t) => {
    if (t === null) return null;
    if ('i' in t) return BigInt(t.i);
    if ('r' in t) return t.r;
    if ('b' in t) return Buffer.from(t.b, 'hex');
    return t.s;
  });
}

/** Key values as text, the form PostgreSQL literals, reports and range bounds use (bytea as \\x hex). */
export function keyText(k: Key): string[] {
  return k.map((v) => (Buffer.isBuffer(v) ? '\\x' + v.toString('hex') : String(v)));
}
