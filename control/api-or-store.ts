// The steering commands' way to the migration state: the control API of the
// proxy at --control when one answers (so a fleet's proxies all see the change
// at once), else the state store at --state directly, read or changed alike.
import os from 'node:os';
import type { Config } from '../common/config.ts';
import { CliError } from '../common/errors.ts';
import { callApi, NoProxy } from './client.ts';
import { pauseState, pauseWindowMs } from './pause.ts';
import { Refused } from './refused.ts';
import type { Mutation } from './state/store.ts';

/** Neither a proxy nor a state store: no migration to read or change. */
export class NoStore extends CliError {}

export const cliActor = () => `cli ${os.userInfo().username}@${os.hostname()}`;

/** The store the proxy uses; a path naming no store is refused with both reasons (no proxy, no file): NoStore. */
export async function openExisting(cfg: Config, noProxy: string) {
  const { NoStateStore, openStateStore } = await import('./state/store.ts');
  try {
    return await openStateStore(cfg.state, { initialReads: cfg.reads, existing: true });
  } catch (e) {
    if (e instanceof NoStateStore) throw new NoStore(`${noProxy}, and ${e.message} (give the --state the proxy uses)`);
    throw e;
  }
}

/** Without a proxy: read or change the state store itself. */
async function direct(cfg: Config, mutate: Mutation | null, reason: string, noProxy: string): Promise<Record<string, unknown>> {
  const store = await openExisting(cfg, noProxy);
  try {
    if (mutate) {
      try {
        await store.change(mutate, cliActor(), reason);
      } catch (e) {
        if (e instanceof Refused) throw new CliError(e.message);
        throw new CliError(`state store ${store.where} unreachable: ${(e as Error).message}`);
      }
    }
    const rec = await store.load().catch((e: Error) => {
      throw new CliError(`state store ${store.where} unreachable: ${e.message}`);
    });
    const history = await store.history(20);
    // no proxy answers here, but one of a fleet may still be running the swap within its window
    const pause = pauseState(rec.paused, rec.paused ? await store.history(200) : [], false, pauseWindowMs(cfg.promoteTimeout));
    return { ...rec, pause, effectiveReadPercent: rec.tripped ? 0 : rec.readPercent, plan: { steps: cfg.steps, next: cfg.steps.find((p) => p > (rec.tripped ? 0 : rec.readPercent)) ?? null }, store: { kind: store.kind, where: store.where }, degraded: null, proxy: null, direct: true, history };
  } finally {
    await store.close();
  }
}

/** The API when a proxy answers; the store when none does and the command allows it. */
export async function apiOrStore(cfg: Config, method: string, path: string, body: unknown, fallback: { mutate: Mutation | null; reason: string } | null, timeoutMs?: number) {
  try {
    return await callApi(cfg.control, cfg.token, method, path, body, timeoutMs);
  } catch (e) {
    if (!(e instanceof NoProxy) || !fallback) throw e;
    return direct(cfg, fallback.mutate, fallback.reason, e.message);
  }
}
