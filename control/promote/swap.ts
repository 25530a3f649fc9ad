// Promote, rollback after promote and finalize share one shape: pause → drain →
// flip → resume, within a time limit (promoteTimeout). Pause goes through the
// state store, so every proxy of a fleet queues new transactions; drain waits
// until no session here and no application transaction on the source of truth
// is open, and the mirror's backlog is empty; flip moves capture (and
// sequences) to the database that becomes the source of truth; resume
// publishes the new roles and lifts the pause in one change. If in-flight
// transactions do not finish within the window, or a step fails, the pause
// is lifted with the roles unchanged and the caller gets the reason (409).
import type { Side } from '../../common/live-state.ts';
import type { ControlContext } from '../context.ts';
import { runningSwap } from '../pause.ts';
import { Refused } from '../refused.ts';
import {
  alignSequencesFrom, describeOpen, installCaptureOn, openTransactions, removeCaptureOn, retireCaptureOn, sqliteFile, tryReverseMirror, withClient,
  type OpenTransaction,
} from '../../proxy/promote/database-steps.ts';
import { abandonPause, completeSwap, enterPause, type SwapKind } from './mutations.ts';

export interface SwapReport {
  kind: SwapKind;
  sourceOfTruth: Side;
  /** From the pause published to the resume published. */
  pausedMs: number;
  drainMs: number;
  flipMs: number;
  sequencesAligned: number;
  captureTables: number;
  verifiedTables: number;
}

/** A Redis fleet learns a change over pub/sub within 100 ms: wait that out before trusting "nothing open". */
const FLEET_SETTLE_MS = 150;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const other = (s: Side): Side => (s === 'legacy' ? 'new' : 'legacy');

export async function swapRoles(ctx: ControlContext, actor: string, kind: SwapKind, opts: { force?: boolean; timeoutSeconds?: number } = {}): Promise<SwapReport> {
  return runningSwap(() => swapOnce(ctx, actor, kind, opts));
}

async function swapOnce(ctx: ControlContext, actor: string, kind: SwapKind, opts: { force?: boolean; timeoutSeconds?: number }): Promise<SwapReport> {
  const { cfg, sync, live, proxy, log } = ctx;
  const sides = proxy.sides;
  if (!sides || !cfg.source || !cfg.target) throw new Refused(`${kind}: needs a --source and a --target (the reverse mirror writes to the legacy database)`, 409);
  if (sync.degraded) throw new Refused(`${kind}: the state store is unreachable (${sync.degraded}); every proxy must see the pause`, 503);
  // refused for the phase (or an operation in progress) before anything is tried
  enterPause({ kind, steps: cfg.steps, force: Boolean(opts.force) })(sync.current);
  const urls: Record<Side, string> = { legacy: cfg.source, new: cfg.target };
  const from = live.get().sourceOfTruth;
  const to = kind === 'finalize' ? from : other(from);
  if (kind !== 'finalize' && !live.mirroringActive) throw new Refused(`${kind}: capture is not active on the ${from} database; nothing would reach the other side`, 409);

  // promote is refused unless the reverse mirror has been tried
  let verifiedTables = 0;
  if (kind !== 'finalize') {
    try {
      verifiedTables = (await tryReverseMirror(urls[to], sides.of(to).applier, cfg.tables)).length;
    } catch (e) {
      throw new Refused(`${kind} refused: the reverse mirror (${to} → ${from}) does not work: ${(e as Error).message}`, 409);
    }
  }

  const windowSeconds = opts.timeoutSeconds ?? cfg.promoteTimeout;
  const windowMs = windowSeconds * 1000;
  await sync.change(enterPause({ kind, steps: cfg.steps, force: Boolean(opts.force) }), actor, `${kind}: pause new transactions (at most ${windowSeconds} s)`);
  const pausedAt = Date.now();
  const deadline = pausedAt + windowMs;
  log.info({ kind, from, to, windowMs }, `${kind}: paused; waiting for in-flight transactions`);
  const resumeUnchanged = async (reason: string) => {
    await sync.change(abandonPause(), actor, `${kind} abandoned: ${reason}`, { safe: true }).catch((e: Error) => log.error({ reason: e.message }, 'could not lift the pause'));
    log.warn({ kind, reason }, `${kind} abandoned: roles unchanged`);
  };

  let drainMs = 0;
  try {
    if (sync.store.kind === 'redis') await sleep(FLEET_SETTLE_MS);
    const why = await drain(ctx, urls[from], from, deadline);
    drainMs = Date.now() - pausedAt;
    if (why) throw new Refused(`${kind} abandoned after ${windowSeconds} s: ${why}; roles unchanged, traffic resumed`, 409, { drainMs });
  } catch (e) {
    await resumeUnchanged((e as Error).message);
    if (e instanceof Refused) throw e;
    throw new Refused(`${kind} abandoned: ${(e as Error).message}; roles unchanged, traffic resumed`, 409);
  }

  const flipStarted = Date.now();
  let flip: { sequences: number; tables: number };
  try {
    flip = kind === 'finalize' ? await finalizeCapture(ctx, urls, deadline) : await moveCapture(ctx, urls, from, to, deadline);
  } catch (e) {
    await resumeUnchanged((e as Error).message);
    throw new Refused(`${kind} abandoned during the flip: ${(e as Error).message}; roles unchanged, traffic resumed`, 409);
  }
  const flipMs = Date.now() - flipStarted;
  try {
    await sync.change(completeSwap(kind, to), actor, `${kind}: ${kind === 'finalize' ? 'capture removed from both databases' : `the ${to} database is the source of truth; the ${from} one mirrors it`}`);
  } catch (e) {
    // the store did not take the new roles: put capture back where the proxies still write
    if (kind !== 'finalize') await moveCapture(ctx, urls, to, from, Date.now() + windowMs).catch((u: Error) => log.error({ reason: u.message }, 'could not undo the flip'));
    await resumeUnchanged((e as Error).message);
    throw e;
  }
  const report: SwapReport = { kind, sourceOfTruth: to, pausedMs: Date.now() - pausedAt, drainMs, flipMs, sequencesAligned: flip.sequences, captureTables: flip.tables, verifiedTables };
  log.info(report, `${kind}: done`);
  return report;
}

/** Null once nothing is in flight anywhere and nothing is left to mirror; the reason when the deadline passes first. */
async function drain(ctx: ControlContext, sourceUrl: string, from: Side, deadline: number): Promise<string | null> {
  const drainer = ctx.proxy.sides!.of(from).drainer;
  // an SQLite file's transactions are this proxy's sessions (another process's write shows up as the busy lock the flip waits for)
  const inFile = (fn: (open: () => Promise<OpenTransaction[]>) => Promise<string | null>) => fn(async () => []);
  const onServer = (fn: (open: () => Promise<OpenTransaction[]>) => Promise<string | null>) => withClient(sourceUrl, (c) => fn(() => openTransactions(c)));
  return (sqliteFile(sourceUrl) ? inFile : onServer)(async (openTransactionsNow) => {
    for (;;) {
      const local = ctx.proxy.busySessions();
      const open = local === 0 ? await openTransactionsNow() : [];
      const backlog = local === 0 && open.length === 0 ? await drainer.flush() : -1;
      if (backlog === 0) return null;
      if (Date.now() >= deadline) {
        if (local > 0) return `${local} session(s) still inside a transaction on this proxy`;
        if (open.length) return `${open.length} transaction(s) still open on the ${from} database: ${describeOpen(open)}`;
        return `${backlog} change row(s) not yet mirrored`;
      }
      await sleep(local > 0 ? 5 : 20);
    }
  });
}

/**
 * Capture off the old source of truth (only once its change table is empty),
 * on the new one, and the new one's sequences past the old one's. On failure
 * the old source of truth gets its capture back.
 */
async function moveCapture(ctx: ControlContext, urls: Record<Side, string>, from: Side, to: Side, deadline: number): Promise<{ sequences: number; tables: number }> {
  await retireUntilEmpty(ctx, urls[from], from, deadline);
  try {
    const tables = await installCaptureOn(urls[to], ctx.cfg.tables, deadline);
    const sequences = await alignSequencesFrom(urls[from], urls[to]);
    return { sequences, tables };
  } catch (e) {
    await installCaptureOn(urls[from], ctx.cfg.tables);
    await removeCaptureOn(urls[to]).catch(() => undefined);
    throw e;
  }
}

async function retireUntilEmpty(ctx: ControlContext, url: string, side: Side, deadline: number): Promise<void> {
  const drainer = ctx.proxy.sides!.of(side).drainer;
  for (;;) {
    // a writer that bypassed the proxy may have added change rows since the drain: mirror them, then try again
    const left = await retireCaptureOn(url, Math.max(1_000, deadline - Date.now()));
    if (left === 0) return;
    if (Date.now() >= deadline) throw new Error(`${left} change row(s) keep arriving on the ${side} database from outside the proxy`);
    await drainer.flush();
  }
}

/** Finalize: nothing is mirrored any more; capture objects go from both databases. */
async function finalizeCapture(ctx: ControlContext, urls: Record<Side, string>, deadline: number): Promise<{ sequences: number; tables: number }> {
  const from = ctx.live.get().sourceOfTruth;
  await retireUntilEmpty(ctx, urls[from], from, deadline);
  const tables = await removeCaptureOn(urls[other(from)]);
  return { sequences: 0, tables };
}
