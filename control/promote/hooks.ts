// The control API's promote, finalize and rollback-after-promote, plugged into
// the ControlHooks seam: each is one swapRoles run, its report merged into the
// API's answer.
import type { ControlHooks } from '../context.ts';
import { resumeInterrupted } from './resume.ts';
import { pauseWindowMs, swapRunning } from '../pause.ts';
import { swapRoles } from './swap.ts';

export const promoteHooks: ControlHooks = {
  promote: async (ctx, actor, opts) => ({ promote: await swapRoles(ctx, actor, 'promote', { force: opts?.force, timeoutSeconds: opts?.timeoutSeconds }) }),
  rollbackPromoted: async (ctx, actor, reason) => {
    ctx.log.warn({ reason }, 'rollback after promote: the legacy database becomes the source of truth again');
    return { rollback: await swapRoles(ctx, actor, 'rollback') };
  },
  finalize: async (ctx, actor) => ({ finalize: await swapRoles(ctx, actor, 'finalize') }),
  resume: async (ctx, actor, opts) => {
    const { sync, cfg, log } = ctx;
    const resume = await resumeInterrupted({
      record: sync.current, history: await sync.store.history(200), urls: { legacy: cfg.source, new: cfg.target }, tables: cfg.tables,
      staleAfterMs: pauseWindowMs(cfg.promoteTimeout), force: opts.force, swapping: swapRunning(),
      change: (m, reason) => sync.change(m, actor, reason, { safe: true }), reason: opts.reason,
      // the first write after the pause is mirrored, not left to the drainer's next look at capture
      beforeLift: () => ctx.live.update({ mirroring: true }, 'resume: capture back on the source of truth'),
    });
    log.warn({ ...resume, reason: opts.reason }, 'pause lifted by the operator: roles unchanged');
    return { resume };
  },
};
