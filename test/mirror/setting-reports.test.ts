// PostgreSQL reports a changed setting (ParameterStatus: TimeZone, DateStyle,
// application_name …) once, just before the next ReadyForQuery; drivers keep
// what it says (node-postgres and JDBC read dates by DateStyle, psql shows
// TimeZone). When that ReadyForQuery answers a request of the proxy's own,
// such as the BEGIN it sends mid-segment to wrap a write, the report must
// still reach the client, before the ReadyForQuery of its own request: the
// server reports each change once and never again. Answers are compared with
// PostgreSQL's, message by message, reports included.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DbPair } from '../harness/databases.ts';
import type { TestProxy } from '../proxy/proxy-harness.ts';
import { bind, execute, int16, msg, sync } from '../proxy/raw-wire.ts';
import { capture } from '../proxy/wire-capture.ts';
import type { WireStep } from '../proxy/wire-scenario.ts';
import { mirroredPair, mirroringProxy } from './mirrored-pair.ts';

let pair: DbPair;
let tp: TestProxy;

beforeAll(async () => {
  pair = await mirroredPair('setting_reports', 'CREATE TABLE t (id int PRIMARY KEY)');
  tp = await mirroringProxy(pair, { reads: 0 });
});
afterAll(async () => {
  await tp?.close();
});

const parse = (text: string) => msg('P', '', text, int16(0));
const flush = () => msg('H');

it("a SET flushed ahead of a write in the same segment: its report reaches the client, though the proxy's BEGIN took it", async () => {
  const steps = (id: number): WireStep[] => [
    { bytes: [parse("SET TimeZone = 'Asia/Tokyo'"), bind(), execute(), flush()], readies: 0, label: 'SET, flushed' },
    { bytes: [parse(`INSERT INTO t VALUES (${id})`), bind(), execute(), sync()], readies: 1, label: 'the write, synced' },
  ];
  const direct = await capture(pair.legacyUrl, steps(1));
  expect(direct).toContain('S "TimeZone\\u0000Asia/Tokyo\\u0000"');
  expect(await capture(tp.url(pair.name), steps(2))).toEqual(direct);
});
