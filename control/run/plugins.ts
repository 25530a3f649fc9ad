// The seam for `cutover run` stages whose work belongs to other parts of
// Cutover: pre-flight checks and backups. A module that implements one
// registers it here; a stage left unregistered makes `run` stop with
// "stage X is not available in this build" unless skipped with --skip.
// (Promote needs no entry: `run` asks the proxy, whose API answers 501 until
// a promote hook is plugged into startControlApi.)
import type { StageFn } from './stages.ts';

export const pluggedStages: Partial<Record<'check' | 'backup', StageFn>> = {};

export function registerStage(name: 'check' | 'backup', fn: StageFn): void {
  pluggedStages[name] = fn;
}
