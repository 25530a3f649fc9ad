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

/** A classified read's Order: by its ORDER BY's output keys where it has them, else by whole rows, or none. */
export function orderOf(c: { orderBy: boolean; sortKeys?: (string | number)[] } | undefined): Order {
  return c?.orderBy ? (c.sortKeys ?? true) : false;
}

/**
 * Row count and hash. Ordered by keys: the rows as a set, and the keys in
 * order, since rows whose keys are equal may come in any order. Floating-point
 * values are compared to 12 significant digits (float4 to 6): an aggregate
 * over them sums in the order each server stored the rows, which moves the
 * last bits.
 */
export function digest(messages: Buffer[], order: Order): Digest {
  const desc = describe(messages);
  const keys = Array.isArray(order) ? keyColumns(desc, order) : null;
  const ordered = order !== false && !keys;
  const rowHashes: string[] = [];
  const keyHash = keys ? createHash('sha256') : null;
  for (const m of messages) {
    if (m[0] !== 0x44 /* DataRow */) continue;
    const values = desc?.floats.size || keys ? columnsOf(m, desc) : null;
    rowHashes.push(createHash('sha1').update(values ? Buffer.concat(values) : m).digest('hex'));
    if (keyHash) for (const k of keys!) keyHash.update(values![k] ?? NO_VALUE);
  }
  if (!ordered) rowHashes.sort();
  const h = createHash('sha256');
  for (const r of rowHashes) h.update(r);
  if (keyHash) h.update(keyHash.digest());
  return { rows: rowHashes.length, hash: h.digest('hex') };
}

const NO_VALUE = Buffer.from([0xff, 0xff, 0xff, 0xfe]);
const FLOAT4 = 700;
const FLOAT8 = 701;

interface Description {
  names: string[];
  /** Floating-point columns by index: their type and whether sent in binary. */
  floats: Map<number, { oid: number; binary: boolean }>;
}

/** The answer's RowDescription, if it has one (a prepared statement's Execute comes without). */
function describe(messages: Buffer[]): Description | null {
  const desc = messages.find((m) => m[0] === 0x54 /* RowDescription */);
  if (!desc) return null;
  const names: string[] = [];
  const floats = new Map<number, { oid: number; binary: boolean }>();
  let at = 7;
  for (let i = 0, n = desc.readInt16BE(5); i < n; i++) {
    const end = desc.indexOf(0, at);
    names.push(desc.toString('utf8', at, end));
    // after the name: table OID (4), column number (2), type OID (4), length (2), modifier (4), format (2)
    const oid = desc.readUInt32BE(end + 7);
    if (oid === FLOAT4 || oid === FLOAT8) floats.set(i, { oid, binary: desc.readInt16BE(end + 17) === 1 });
    at = end + 1 + 18;
  }
  return { names, floats };
}

/** The indexes of the key columns, or null if a key names no single column. */
function keyColumns(desc: Description | null, keys: readonly (string | number)[]): number[] | null {
  // without a description, positions still say where the keys are
  if (!desc) return keys.every((k) => typeof k === 'number' && k > 0) ? keys.map((k) => (k as number) - 1) : null;
  const out: number[] = [];
  for (const k of keys) {
    const i = typeof k === 'number' ? k - 1 : desc.names.indexOf(k);
    if (i < 0 || i >= desc.names.length || (typeof k === 'string' && desc.names.lastIndexOf(k) !== i)) return null;
    out.push(i);
  }
  return out;
}

/** A DataRow's values, each with its length word (NULL is -1 and no bytes), floats rounded. */
function columnsOf(row: Buffer, desc: Description | null): Buffer[] {
  const out: Buffer[] = [];
  let at = 7;
  for (let c = 0, n = row.readInt16BE(5); c < n; c++) {
    const len = row.readInt32BE(at);
    const end = at + 4 + Math.max(len, 0);
    const float = desc?.floats.get(c);
    out.push(float && len > 0 ? roundedFloat(row.subarray(at + 4, end), float.oid, float.binary) : row.subarray(at, end));
    at = end;
  }
  return out;
}

function roundedFloat(value: Buffer, oid: number, binary: boolean): Buffer {
  const x = binary ? (oid === FLOAT4 ? value.readFloatBE(0) : value.readDoubleBE(0)) : Number(value.toString('latin1'));
  const text = Number.isFinite(x) ? x.toPrecision(oid === FLOAT4 ? 6 : 12) : String(x);
  const out = Buffer.alloc(4 + text.length);
  out.writeInt32BE(text.length, 0);
  out.write(text, 4, 'latin1');
  return out;
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
