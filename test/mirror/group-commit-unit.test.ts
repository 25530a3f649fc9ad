import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../proxy/mirror/group-commit.ts';
import { mergedRuns, type Change } from '../../proxy/mirror/apply.ts';

const ch = (tbl: string, op: Change['op'], k: number, row?: string): Change => ({ seq: k, tbl, op, pk: `{"id": ${k}}`, row: op === 'U' ? (row ?? `{"id": ${k}}`) : null });
const tick = () => new Promise((r) => setImmediate(r));

describe('group commit', () => {
  it('puts the applies waiting at the same moment in one transaction', async () => {
    const together: Change[][][] = [];
    const alone: Change[][] = [];
    const g = new GroupCommit(async (lists) => void together.push(lists), async (c) => void alone.push(c), 1);
    const lists = Array.from({ length: 5 }, (_, i) => [ch('t', 'U', i)]);
    await Promise.all(lists.map((l) => g.apply(l)));
    expect(together).toEqual([lists]);
    expect(alone).toEqual([]);
  });

  it('a failed combined transaction falls back to each alone: only the bad session sees its error', async () => {
    const alone: Change[][] = [];
    const g = new GroupCommit(
      async () => {
        throw new Error('check violated');
      },
      async (c) => {
        alone.push(c);
        if (c[0]!.seq === 3) throw new Error('check violated');
      },
    );
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => g.apply([ch('t', 'U', i)])));
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(alone).toHaveLength(6);
  });

  it('a failure that is nobody\'s own (mirror unreachable) fails the batch without trying each alone', async () => {
    const unreachable = new Error('connect ECONNREFUSED');
    let alone = 0;
    const g = new GroupCommit(async () => {
      throw unreachable;
    }, async () => void alone++, 64, (e) => e === unreachable);
    const outcomes = await Promise.allSettled(Array.from({ length: 3 }, (_, i) => g.apply([ch('t', 'U', i)])));
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(alone).toBe(0);
  });

  it('with the batches in flight at their cap, later sessions wait and go together in the next one', async () => {
    const sizes: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const g = new GroupCommit(async (lists) => {
      sizes.push(lists.length);
      await gate;
    }, async () => {
      sizes.push(1);
      await gate;
    }, 1);
    const first = g.apply([ch('t', 'U', 0)]);
    await tick();
    const rest = Array.from({ length: 4 }, (_, i) => g.apply([ch('t', 'U', i + 1)]));
    await tick();
    expect(sizes).toEqual([1]);
    release();
    await Promise.all([first, ...rest]);
    expect(sizes).toEqual([1, 4]);
  });

  it('an empty change list needs no mirror transaction', async () => {
    const g = new GroupCommit(async () => expect.unreachable(), async () => expect.unreachable());
    await g.apply([]);
  });
});

describe('merged runs of several sessions', () => {
  it('joins same-table runs across sessions, keeping each session\'s own order', () => {
    const a = [ch('acc', 'U', 1), ch('hist', 'U', 10)];
    const b = [ch('acc', 'U', 2), ch('hist', 'U', 11)];
    const c = [ch('hist', 'U', 12), ch('acc', 'D', 3), ch('hist', 'U', 13)];
    const runs = mergedRuns([a, b, c]);
    expect(runs.map((r) => [r.tbl, r.op, r.items.length])).toEqual([
      ['acc', 'U', 2],
      ['hist', 'U', 3],
      ['acc', 'D', 1],
      ['hist', 'U', 1],
    ]);
    // c's second history insert comes after its delete, never before
    expect(runs[3]!.items).toEqual(['{"id": 13}']);
  });

  it('never merges a truncate, and one session alone is its plain runs', () => {
    const runs = mergedRuns([[ch('t', 'U', 1)], [{ seq: 2, tbl: 't', op: 'T', pk: '{}', row: null }], [ch('u', 'U', 3)]]);
    expect(runs.map((r) => r.op + r.tbl)).toEqual(['Ut', 'Tt', 'Uu']);
    expect(mergedRuns([[ch('t', 'U', 1), ch('t', 'U', 1, '{"id": 1, "v": 2}')]])[0]!.items).toEqual(['{"id": 1, "v": 2}']);
  });
});
