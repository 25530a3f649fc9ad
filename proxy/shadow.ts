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

export function digest(messages: Buffer[], ordered: boolean): Digest {
  const rowHashes: string[] = [];
  for (const m of messages) if (m[0] === 0x44 /* DataRow */) rowHashes.push(createHash('sha1').update(m).digest('hex'));
  if (!ordered) rowHashes.sort();
  const h = createHash('sha256');
  for (const r of rowHashes) h.update(r);
  return { rows: rowHashes.length, hash: h.digest('hex') };
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
