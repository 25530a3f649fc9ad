// A mirror apply the new database refuses for some of its rows (a unique value
// only it holds, a CHECK or an ALWAYS trigger of its own, a value its type
// refuses) fails whole. The drainer applies a batch as one transaction, so one
// such key failed its batch on every pass and held back everything queued
// behind it, for every table. Here the batch is split in halves, in order,
// down to the keys the mirror refuses: the rest is applied (each half after
// the one before it, so the source's order holds), the refused ones go back
// to the queue.
import type { LiveState } from '../../common/live-state.ts';
import { MirrorApplyError, MirrorUnreachableError, type Change } from './apply.ts';

/**
 * SQLSTATE classes of the mirror refusing particular rows, as it would
 * refuse them again: data exceptions, integrity violations, a trigger's RAISE,
 * undefined objects and the like, program limits (a row too large to index).
 * Not a mirror that is failing (connections, resources, timeouts, a
 * deadlock): those fail every row alike, and the batch is tried whole later.
 */
const ROW_REFUSALS = new Set(['0A', '22', '23', '2F', '38', '39', '42', '44', '54', 'P0']);

/** Failed applies one batch may spend finding its refused keys: a batch the mirror refuses whole costs this, not two per row. */
export const ISOLATION_BUDGET = 24;

export function refusesRows(e: unknown): boolean {
  if (!(e instanceof MirrorApplyError) || e instanceof MirrorUnreachableError) return false;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && ROW_REFUSALS.has(code.slice(0, 2));
}

export interface Refused {
  /** Changes the mirror refused, alone or among others the budget left no tries to tell apart. */
  changes: Change[];
  /** Changes not told apart once the budget was spent: their table's rows, tried whole, were refused. */
  untried: Change[];
  /** The mirror's first refusal. */
  reason: MirrorApplyError;
}

/**
 * The keys to queue again, the ones not told apart first: queued behind the
 * refused ones (their place in the batch), rows behind a run of refused keys
 * longer than the budget were never split again, pass after pass.
 */
export function requeued(r: Refused): { tbl: string; pk: string }[] {
  return [...r.untried, ...r.changes].map((c) => ({ tbl: c.tbl, pk: c.pk }));
}

/**
 * `changes` applied in order by `apply`, isolating the rows the mirror
 * refuses; null if all went through. An error that is no refusal of rows
 * (refusesRows) is thrown, whatever was applied before it: the caller keeps
 * every change row, and applying them again is harmless (upserts of whole
 * rows, deletes by key).
 */
export async function applyIsolating(apply: (changes: Change[]) => Promise<void>, changes: Change[], budget = ISOLATION_BUDGET): Promise<Refused | null> {
  const refused: Change[] = [];
  const untried: Change[] = [];
  let reason: MirrorApplyError | null = null;
  let failures = 0;
  const go = async (list: Change[]): Promise<void> => {
    if (!list.length) return;
    if (failures >= budget) {
      untried.push(...list);
      return;
    }
    try {
      await apply(list);
    } catch (e) {
      if (!refusesRows(e)) throw e;
      failures++;
      reason ??= e as MirrorApplyError;
      // one key, or no budget left to split further: refused as a whole
      if (list.length === 1 || failures >= budget) {
        refused.push(...list);
        return;
      }
      const half = Math.ceil(list.length / 2);
      await go(list.slice(0, half));
      await go(list.slice(half));
    }
  };
  await go(changes);
  // The budget spent, what is left is tried once more a table at a time: a batch comes grouped by table
  // (Drainer.currentRows), so a table whose rows the mirror refuses by the dozen spent it all before the
  // next table's rows were tried, pass after pass, and they never arrived.
  const left = untried.splice(0);
  const byTable = new Map<string, Change[]>();
  for (const c of left) {
    const run = byTable.get(c.tbl);
    if (run) run.push(c);
    else byTable.set(c.tbl, [c]);
  }
  for (const run of byTable.values()) {
    try {
      await apply(run);
    } catch (e) {
      if (!refusesRows(e)) throw e;
      untried.push(...run);
    }
  }
  return reason ? { changes: refused, untried, reason } : null;
}

/** A drain that committed, with the keys the mirror refused queued again: a failed drain to its schedule, which backs off and says why. */
export class DrainRefusedError extends Error {}

/**
 * The error a drain with refused keys ends in, reads tripped first: the mirror lacks rows the source committed
 * for as long as it refuses them, and a read routed there would answer without them (as after a session's failed apply).
 */
export function tripForRefusal(live: LiveState, r: Refused): DrainRefusedError {
  const tables = [...new Set(r.changes.map((c) => c.tbl))];
  const untried = r.untried.length ? `, ${r.untried.length} more left for the next pass` : '';
  const e = new DrainRefusedError(`the mirror refused ${r.changes.length} key(s) of ${tables.join(', ')}, queued again${untried} (the rest of the batch was applied): ${r.reason.message}`);
  live.trip(`mirror write failed: drainer: ${e.message}`);
  return e;
}
