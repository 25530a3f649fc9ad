// A server connection stops being read for two reasons of its own: the drain
// budget (a large drained row waits until another session's apply ends) and
// a client leaving its answers unread (the relay's backpressure). Both paused
// and resumed the one stream, so either's resume lifted the other's pause:
// a session waiting for the budget read its large row in anyway as soon as its
// client caught up, and a budget grant made a session read on for a client
// that was not reading. Each reason now holds the connection on its own.
import { Duplex } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { BackendLink } from '../../proxy/backend-link.ts';
import { drainBudget } from '../../proxy/mirror/drain-budget.ts';
import { DrainCollect } from '../../proxy/mirror/drain-statement.ts';

/** A server that sends what the test pushes and swallows what the link writes. */
function fakeServer(): Duplex {
  return new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
}

/** A drain's DataRow (seq, tbl, op, pk, row) whose row is `row`. */
function drainRow(row: Buffer): Buffer {
  const cols = ['1', '"public"."t"', 'U', '{"id": 1}'].map((s) => Buffer.from(s));
  const body: Buffer[] = [];
  for (const c of [...cols, row]) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(c.length);
    body.push(len, c);
  }
  const n = Buffer.alloc(2);
  n.writeInt16BE(5);
  const payload = Buffer.concat([n, ...body]);
  const head = Buffer.alloc(5);
  head[0] = 0x44;
  head.writeInt32BE(4 + payload.length, 1);
  return Buffer.concat([head, payload]);
}
const READY = Buffer.from([0x5a, 0, 0, 0, 5, 0x54]);

const OTHERS = 256 << 20;
let othersHold = false;
afterEach(() => {
  if (othersHold) drainBudget.give(OTHERS);
  othersHold = false;
});

/** A link whose drain has begun to receive a 2 MB row while other sessions hold the whole budget. */
function waitingForBudget() {
  expect(drainBudget.take(OTHERS, false, () => undefined)).toBe(true);
  othersHold = true;
  const server = fakeServer();
  const link = new BackendLink('source', server);
  const drain = new DrainCollect();
  link.request(Buffer.from('drain'), drain);
  const row = Buffer.alloc(2 << 20, 0x61);
  row.write('{"id": 1, "v": "', 0);
  row.write('"}', row.length - 2);
  const message = drainRow(row);
  server.push(message.subarray(0, 1 << 16));
  const rest = message.subarray(1 << 16);
  const othersDone = () => {
    othersHold = false;
    drainBudget.give(OTHERS);
  };
  return { server, link, drain, rest, othersDone };
}

/** Lets the stream deliver what it has. */
const settle = () => new Promise((r) => setImmediate(r));

it('the client catching up does not lift the wait for the drain budget', async () => {
  const { server, link, drain, rest, othersDone } = waitingForBudget();
  await settle();
  expect(drainBudget.waiters).toBe(1);
  expect(server.isPaused()).toBe(true);
  // the client stops reading its answers, then catches up: the budget still says wait
  link.stopReading('client');
  link.readAgain('client');
  server.push(rest);
  server.push(READY);
  await settle();
  expect(server.isPaused()).toBe(true);
  expect(drain.taken).toEqual([]);
  othersDone();
  await settle();
  expect(server.isPaused()).toBe(false);
  await drain.done;
  expect(drain.taken.map((c) => c.row?.length)).toEqual([2 << 20]);
  drain.release();
  expect(drainBudget.taken).toBe(0);
});

it('the budget granted does not lift the wait for a client that is not reading', async () => {
  const { server, link, drain, rest, othersDone } = waitingForBudget();
  await settle();
  link.stopReading('client');
  othersDone();
  server.push(rest);
  server.push(READY);
  await settle();
  expect(server.isPaused()).toBe(true);
  expect(drain.taken).toEqual([]);
  link.readAgain('client');
  await drain.done;
  expect(drain.taken.map((c) => c.row?.length)).toEqual([2 << 20]);
  drain.release();
  expect(drainBudget.taken).toBe(0);
});
