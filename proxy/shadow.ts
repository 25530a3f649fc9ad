// Shadow reads: a sampled read runs on both databases and the answers are
// compared — row count and a hash of the rows, order-insensitive unless the
// query orders them. Rows can change between the two reads, so a mismatch is
// read again once on both sides before it counts.
import { createHash } from 'node:crypto';
import client from 'prom-client';

export interface Digest {
  rows: number;
  hash: string;
}

/**
 * How a read's rows are ordered: not at all, by whole rows, or by the ORDER
 * BY's keys as output columns (names or 1-based positions).
 */
export type Order = boolean | readonly (string | number)[];

/**
 * Row count and hash. Ordered by keys: the rows as a set, and the keys in
 * order, since rows whose keys are equal may come in any order.
 */
export function digest(messages: Buffer[], order: Order): Digest {
  const keys = Array.isArray(order) ? keyColumns(messages, order) : null;
  const ordered = order !== false && !keys;
  const rowHashes: string[] = [];
  const keyHash = keys ? createHash('sha256') : null;
  for (const m of messages) {
    if (m[0] !== 0x44 /* DataRow */) continue;
    rowHashes.push(createHash('sha1').update(m).digest('hex'));
    if (keyHash) for (const value of columnValues(m, keys!)) keyHash.update(value);
  }
  if (!ordered) rowHashes.sort();
  const h = createHash('sha256');
  for (const r of rowHashes) h.update(r);
  if (keyHash) h.update(keyHash.digest());
  return { rows: rowHashes.length, hash: h.digest('hex') };
}

/** The indexes of the key columns in the answer's RowDescription, or null if a key names no single column. */
function keyColumns(messages: Buffer[], keys: readonly (string | number)[]): number[] | null {
  const desc = messages.find((m) => m[0] === 0x54 /* RowDescription */);
  // a prepared statement's Execute comes without its description: positions still say where the keys are
  if (!desc) return keys.every((k) => typeof k === 'number' && k > 0) ? keys.map((k) => (k as number) - 1) : null;
  const names: string[] = [];
  let at = 7;
  for (let n = desc.readInt16BE(5); n > 0; n--) {
    const end = desc.indexOf(0, at);
    names.push(desc.toString('utf8', at, end));
    at = end + 1 + 18;
  }
  const out: number[] = [];
  for (const k of keys) {
    const i = typeof k === 'number' ? k - 1 : names.indexOf(k);
    if (i < 0 || i >= names.length || (typeof k === 'string' && names.lastIndexOf(k) !== i)) return null;
    out.push(i);
  }
  return out;
}

/** The chosen columns of a DataRow, each with its length word (NULL is -1 and no bytes). */
function columnValues(row: Buffer, columns: number[]): Buffer[] {
  const starts: number[] = [];
  let at = 7;
  for (let c = row.readInt16BE(5); c > 0; c--) {
    starts.push(at);
    const len = row.readInt32BE(at);
    at += 4 + Math.max(len, 0);
  }
  return columns.map((c) => {
    const start = starts[c];
    return start === undefined ? Buffer.alloc(0) : row.subarray(start, start + 4 + Math.max(row.readInt32BE(start), 0));
  });
}

export function sameDigest(a: Digest, b: Digest): boolean {
  return a.rows === b.rows && a.hash === b.hash;
}

const metric =
  (client.register.getSingleMetric('cutover_shadow_reads_total') as client.Counter<'result'> | undefined) ??
  new client.Counter({ name: 'cutover_shadow_reads_total', help: 'Shadow reads compared, by result', labelNames: ['result'] });

export const shadowStats = { matches: 0, mismatches: 0, recovered: 0 };

export function recordShadow(result: 'match' | 'mismatch' | 'recovered'): void {
  metric.inc({ result });
  if (result === 'match') shadowStats.matches++;
  else if (result === 'mismatch') shadowStats.mismatches++;
  else shadowStats.recovered++;
}
