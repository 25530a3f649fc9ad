// Where a request mixing transaction control with other statements is cut
// (proxy/txn-split.ts): pure, no servers.
import { beforeAll, describe, expect, it } from 'vitest';
import { classify, loadParser } from '../../proxy/classify/classify.ts';
import { bindMessage, EXECUTE, parseMessage, SYNC } from '../../proxy/messages.ts';
import type { Message } from '../../proxy/framing.ts';
import { extendedPieces, needsSplit, simplePieces } from '../../proxy/txn-split.ts';

beforeAll(async () => {
  await loadParser();
});

const text = (b: Buffer): string => b.toString('utf8', 5, b.length - 1);

describe('simple Query', () => {
  it('splits only where a COMMIT may need the mirror first', () => {
    expect(needsSplit(classify('BEGIN; UPDATE t SET v = 1; COMMIT'), false)).toBe(true);
    expect(needsSplit(classify('UPDATE t SET v = 1; COMMIT'), false)).toBe(true);
    expect(needsSplit(classify('SELECT 1; COMMIT'), true)).toBe(true);
    // read-only from outside a transaction: nothing to mirror
    expect(needsSplit(classify('BEGIN; SELECT 1; COMMIT'), false)).toBe(false);
    expect(needsSplit(classify('UPDATE t SET v = 1; UPDATE t SET v = 2'), false)).toBe(false);
    expect(needsSplit(classify('COMMIT'), true)).toBe(false);
    expect(needsSplit(classify("PREPARE TRANSACTION 'x'"), true)).toBe(true);
    // COPY's data must flow to the server as it comes
    expect(needsSplit(classify('BEGIN; COPY t FROM STDIN; COMMIT'), false)).toBe(false);
    // rows copied out need no data from the client: the COMMIT before them still waits for the mirror
    expect(needsSplit(classify('UPDATE t SET v = 1; COMMIT; COPY (SELECT 1) TO STDOUT'), false)).toBe(true);
    expect(needsSplit(classify('BEGIN; UPDATE t SET; COMMIT'), false)).toBe(false);
  });

  it('keeps transaction control alone, the runs between together, each at its place in the string', () => {
    const sql = "BEGIN;\n  UPDATE t SET v = 'é';  SELECT x FROM t ;COMMIT; INSERT INTO t VALUES (1)";
    const pieces = simplePieces(sql, classify(sql));
    expect(pieces.map((p) => p.txn)).toEqual(['begin', null, 'commit', null]);
    const texts = pieces.map((p) => text(p.bytes[0]!));
    expect(texts.map((t) => t.trim())).toEqual(['BEGIN', "UPDATE t SET v = 'é';  SELECT x FROM t", 'COMMIT', 'INSERT INTO t VALUES (1)']);
    // an error position in a piece is one in the client's string (padding counted in characters)
    for (const t of texts) expect([...sql].slice(t.length - t.trimStart().length).join('').startsWith(t.trimStart())).toBe(true);
  });

  it('marks runs holding a schema change', () => {
    const sql = 'BEGIN; CREATE TABLE u (id int); COMMIT';
    expect(simplePieces(sql, classify(sql)).map((p) => p.ddl)).toEqual([false, true, false]);
  });
});

describe('extended segment', () => {
  const msg = (b: Buffer): Message => ({ type: b[0]!, bytes: b });
  it('is cut after every Execute, each piece with its own Sync, trailing messages with the last', () => {
    const msgs = [parseMessage('s1', 'UPDATE t SET v = 1'), bindMessage('s1', []), EXECUTE, parseMessage('', 'COMMIT'), bindMessage('', []), EXECUTE, Buffer.from([0x43, 0, 0, 0, 7, 0x53, 0x78, 0])].map(msg);
    const infos = [{ txn: null, kind: 'write' as const }, { txn: 'commit' as const, kind: 'txn' as const }];
    let i = 0;
    const pieces = extendedPieces(msgs, () => infos[i++]!);
    expect(pieces.map((p) => p.txn)).toEqual([null, 'commit']);
    expect(pieces.map((p) => p.parses)).toEqual([['s1'], ['']]);
    expect(pieces.map((p) => p.binds)).toEqual([[], []]);
    expect(pieces.map((p) => p.bytes.length)).toEqual([4, 5]);
    for (const p of pieces) expect(p.bytes[p.bytes.length - 1]).toEqual(SYNC);
  });
});
