// A server connection follows what became of each Parse it sent (BackendLink.onParse):
// made (ParseComplete), failed (its error) or skipped (after an earlier error,
// up to the Sync). A FunctionCall, like a Query, is answered
// on its own with a ReadyForQuery and skips nothing: taken for extended-protocol
// messages, its ReadyForQuery settled the Parses pipelined behind it as skipped.
import { Duplex } from 'node:stream';
import { expect, it } from 'vitest';
import { BackendLink, Collect } from '../../proxy/backend-link.ts';
import { int16, int32, msg, query, sync } from './raw-wire.ts';

function fakeServer(): Duplex {
  return new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
}
const answer = (type: string, body = Buffer.alloc(0)) => msg(type, body);
const READY = answer('Z', Buffer.from('I'));
const PARSE_COMPLETE = answer('1');
/** What the server sends, once the link has read it. */
async function serverSends(server: Duplex, bytes: Buffer): Promise<void> {
  server.push(bytes);
  await new Promise((r) => setImmediate(r));
}

function linkWithFates() {
  const server = fakeServer();
  const link = new BackendLink('source', server);
  const fates: string[] = [];
  link.onParse = (parse, fate) => fates.push(`${parse.toString('latin1', 5, parse.indexOf(0, 5))}:${fate}`);
  return { server, link, fates };
}

it('a Parse pipelined behind a FunctionCall is settled by its own answer, not by the FunctionCall\'s ReadyForQuery', async () => {
  const { server, link, fates } = linkWithFates();
  const call = msg('F', int32(1397), int16(0), int16(1), int32(2), Buffer.from('-5'), int16(0));
  link.request(call, new Collect());
  link.request([msg('P', 's5', 'SELECT 5', int16(0)), sync()], new Collect());
  await serverSends(server, Buffer.concat([answer('V', Buffer.concat([int32(1), Buffer.from('5')])), READY]));
  expect(fates).toEqual([]);
  await serverSends(server, Buffer.concat([PARSE_COMPLETE, READY]));
  expect(fates).toEqual(['s5:made']);
});

it('the same behind a Query; and a Parse that failed, and one the server skipped after it', async () => {
  const { server, link, fates } = linkWithFates();
  link.request(query('SELECT 1'), new Collect());
  link.request([msg('P', 'bad', 'SELEC', int16(0)), msg('P', 'after', 'SELECT 2', int16(0)), sync()], new Collect());
  await serverSends(server, READY);
  expect(fates).toEqual([]);
  await serverSends(server, Buffer.concat([answer('E', Buffer.from('SERROR\0C42601\0Msyntax error\0\0')), READY]));
  expect(fates).toEqual(['bad:failed', 'after:skipped']);
});

it('a COPY FROM STDIN in the extended protocol: the Sync libpq sends behind its Execute is ignored in copy-in, the one after CopyDone ends it', async () => {
  const { server, link, fates } = linkWithFates();
  link.request([msg('P', '', 'COPY t FROM STDIN', int16(0)), msg('B', '', '', int16(0), int16(0), int16(0)), msg('E', '', int32(0)), sync()], new Collect());
  await serverSends(server, Buffer.concat([PARSE_COMPLETE, answer('2'), answer('G', Buffer.concat([Buffer.from([0]), int16(0)]))]));
  expect(fates).toEqual([':made']);
  link.write([msg('d', '1\n'), msg('c'), sync()]);
  // pipelined behind the COPY, before its answer
  link.request([msg('P', 'next', 'SELECT 1', int16(0)), sync()], new Collect());
  await serverSends(server, Buffer.concat([answer('C', Buffer.from('COPY 1\0')), READY]));
  expect(fates).toEqual([':made']);
  await serverSends(server, Buffer.concat([PARSE_COMPLETE, READY]));
  expect(fates).toEqual([':made', 'next:made']);
});

it('an error after answered messages of the segment is the Parse\'s own; one before the Parse answers skips it', async () => {
  const { server, link, fates } = linkWithFates();
  const bindS1 = msg('B', '', 's1', int16(0), int16(0), int16(0));
  const error = answer('E', Buffer.from('SERROR\0C42P01\0Mno such relation\0\0'));
  // the Bind and Execute flushed and answered, then the Parse that fails
  link.request([bindS1, msg('E', '', int32(0)), msg('H')], new Collect());
  link.request([msg('P', 'bad', 'SELECT * FROM nosuch', int16(0)), sync()], new Collect());
  await serverSends(server, Buffer.concat([answer('2'), answer('C', Buffer.from('SELECT 1\0')), error, READY]));
  expect(fates).toEqual(['bad:failed']);
  // the Bind fails: the Parse behind it is skipped
  link.request([bindS1, msg('P', 'later', 'SELECT 2', int16(0)), sync()], new Collect());
  await serverSends(server, Buffer.concat([error, READY]));
  expect(fates).toEqual(['bad:failed', 'later:skipped']);
});
