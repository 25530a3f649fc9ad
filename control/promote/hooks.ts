// The control API's promote, finalize and rollback-after-promote, plugged into
// the ControlHooks seam: each is one swapRoles run, its report merged into the
// API's answer.
import type { ControlHooks } from '../context.ts';
import { swapRoles } from './swap.ts';

export const promoteHooks: ControlHooks = {
  promote: async (ctx, actor, opts) => ({ promote: await swapRoles(ctx, actor, 'promote', { force: opts?.force, timeoutSeconds: opts?.timeoutSeconds }) }),
  rollbackPromoted: async (ctx, actor, reason) => {
    ctx.log.warn({ reason }, 'rollback after promote: the legacy database becomes the source of truth again');
    return { rollback: await swapRoles(ctx, actor, 'rollback') };
  },
  finalize: async (ctx, actor) => ({ finalize: await swapRoles(ctx, actor, 'finalize') }),
};
