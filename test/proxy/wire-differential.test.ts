// Differential wire test: for each seed, the same frontend messages
// (wire-scenario.ts) go to PostgreSQL directly, through the byte relay (a
// proxy without a target), and through a mirroring proxy with reads at 0 %
// and at 100 %; the backend messages each client sees must be the same, and so
// must the rows each run leaves (on the new database too, once drained).
// Every run starts from the same rows on both databases. WIRE_DIFF_SEEDS runs
// other seeds (and WIRE_DIFF_LOG=file keeps what differs):
// `WIRE_DIFF_SEEDS=1-2000 npx vitest run test/proxy/wire-differential.test.ts`.
import { appendFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type DbPair } from '../harness/databases.ts';
import { mirroredPair, mirroringProxy } from '../mirror/mirrored-pair.ts';
import { startTestProxy, type TestProxy } from './proxy-harness.ts';
import { capture, firstDifference } from './wire-capture.ts';
import { WIRE_RESET, WIRE_SCHEMA, wireScenario } from './wire-scenario.ts';

let pair: DbPair;
let passthrough: TestProxy;
let mirror: TestProxy;
/** Reads the 100 % runs sent to the new database. */
let routed = 0;

beforeAll(async () => {
  pair = await mirroredPair('wire_differential', WIRE_SCHEMA);
  passthrough = await startTestProxy({ source: pair.legacyUrl });
  mirror = await mirroringProxy(pair, { reads: 0 });
});
afterAll(async () => {
  await passthrough?.close();
  await mirror?.close();
});

async function reset(): Promise<void> {
  mirror.live.update({ readPercent: 0, tripped: null });
  // through the mirroring proxy: the same rows on both databases, the drainer done with what direct runs wrote
  await sql(mirror.url(pair.name), WIRE_RESET);
  await mirror.proxy.drainer!.flush();
}

function seeds(): number[] {
  const spec = process.env.WIRE_DIFF_SEEDS;
  if (!spec) return Array.from({ length: 16 }, (_, i) => i + 1);
  // 1-2000, or 7,42,99
  return spec.split(',').flatMap((part) => {
    const [from, to] = part.split('-').map(Number);
    return Array.from({ length: (to ?? from!) - from! + 1 }, (_, i) => from! + i);
  });
}

/** The rows a scenario may have changed, as one line. */
async function rows(url: string): Promise<string> {
  const r = await sql(url, 'SELECT (SELECT json_agg(i ORDER BY id) FROM items i)::text AS items, (SELECT json_agg(n ORDER BY k) FROM notes n)::text AS notes');
  return `${r.rows[0].items} ${r.rows[0].notes}`;
}

/**
 * The answers a path gave, then what it left: the source's rows unlike those the direct run left (a write lost, or
 * made where PostgreSQL made none), and for a mirroring path the new database's unlike the source's once drained.
 */
async function withRows(lines: string[], after: string, mirrored: boolean): Promise<string[]> {
  const left = await rows(pair.legacyUrl);
  if (left !== after) lines.push(`[rows on the source: ${left}; directly: ${after}]`);
  if (!mirrored) return lines;
  await mirror.proxy.drainer!.flush();
  const copied = await rows(pair.targetUrl);
  if (copied !== left) lines.push(`[rows on the new database: ${copied}; on the source: ${left}]`);
  return lines;
}

/** The seed's answers on every path, each compared with the direct one: a line per path that differs. */
async function differences(seed: number): Promise<string[]> {
  const steps = wireScenario(seed);
  const out: string[] = [];
  await reset();
  const direct = await capture(pair.legacyUrl, steps);
  const after = await rows(pair.legacyUrl);
  const paths: [string, () => Promise<string[]>][] = [
    ['byte relay', async () => withRows(await capture(passthrough.url(pair.name), steps), after, false)],
    ['mirroring, reads 0 %', async () => withRows(await capture(mirror.url(pair.name), steps), after, true)],
    ['mirroring, reads 100 %', async () => {
      mirror.live.update({ readPercent: 100 });
      const { reads, readErrors } = mirror.proxy.guard!.stats;
      const lines = await capture(mirror.url(pair.name), steps);
      routed += mirror.proxy.guard!.stats.reads - reads;
      // the client's mistakes are no fault of the new database: nothing counted against it, reads not turned back
      if (mirror.proxy.guard!.stats.readErrors !== readErrors) lines.push(`[${mirror.proxy.guard!.stats.readErrors - readErrors} read errors counted against the target]`);
      if (mirror.live.get().tripped) lines.push(`[tripped: ${mirror.live.get().tripped}]`);
      return withRows(lines, after, true);
    }],
  ];
  for (const [name, run] of paths) {
    await reset();
    const d = firstDifference(direct, await run());
    if (d) out.push(`seed ${seed}, ${name}: ${d}`);
  }
  if (out.length) out.push('steps:\n' + steps.map((s, i) => `${i}: ${s.label}`).join('\n'));
  return out;
}

it.each(seeds())('seed %i: the same answers directly, through the byte relay, and mirroring with reads at 0 % and 100 %', async (seed) => {
  const found = (await differences(seed)).join('\n');
  // a long hunt writes what it found to a file as it goes
  if (found && process.env.WIRE_DIFF_LOG) appendFileSync(process.env.WIRE_DIFF_LOG, found + '\n\n');
  expect(found).toBe('');
});

it('the runs at 100 % sent reads to the new database', () => {
  expect(routed).toBeGreaterThan(0);
});
