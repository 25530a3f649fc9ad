// Steering from the command line: each command talks to the control API of the
// proxy at --control; status, reads and rollback act on the state store
// (--state) directly when no proxy answers there.
import type { Command } from 'commander';
import type { Config } from '../common/config.ts';
import { CliError } from '../common/errors.ts';
import { action } from './cli-support.ts';
import { apiOrStore, cliActor, openExisting } from './api-or-store.ts';
import { callApi, NoProxy } from './client.ts';
import { formatStatus } from './format.ts';
import { pauseWindowMs, type PauseState } from './pause.ts';
import { isPhase, PHASES } from './phases.ts';
import { Refused } from './refused.ts';
import { rollback, setReads } from './steer.ts';
import { registerRunCommand } from './run/command.ts';

/** `resume` with no proxy answering: the same repair, against the databases and the store directly. */
async function resumeDirect(cfg: Config, reason: string, force: boolean, noProxy: string): Promise<Record<string, unknown>> {
  const { resumeInterrupted } = await import('./promote/resume.ts');
  const store = await openExisting(cfg, noProxy);
  try {
    const resume = await resumeInterrupted({
      record: await store.load(), history: await store.history(200), urls: { legacy: cfg.source, new: cfg.target }, tables: cfg.tables,
      staleAfterMs: pauseWindowMs(cfg.promoteTimeout), force, swapping: false,
      change: (m, why) => store.change(m, cliActor(), why), reason,
    }).catch((e: Error) => {
      throw e instanceof Refused ? new CliError(e.message) : e;
    });
    const rec = await store.load();
    return { ...rec, direct: true, resume };
  } finally {
    await store.close();
  }
}

/** `phase PROMOTED; new transactions paused 180 ms` from a swap's report. */
function swapLine(s: Record<string, unknown>, kind: string): string {
  const r = s[kind] as { pausedMs?: number } | undefined;
  return `phase ${s.phase}${r?.pausedMs !== undefined ? `; new transactions paused ${r.pausedMs} ms` : ''}`;
}

const readsLine = (s: Record<string, unknown>) =>
  `phase ${s.phase}; reads to the ${s.sourceOfTruth === 'new' ? 'legacy' : 'new'} database: ${s.effectiveReadPercent} %${s.direct ? ' (no proxy answered: state store changed directly)' : ''}`;

export function registerControlCommands(program: Command): void {
  program
    .command('status')
    .description('phase, read percent, plan position, gates, breaker, dirty keys, history (exit 2 if tripped, degraded or a promote is in progress; 1 if a pause is left that no proxy carries out)')
    .option('--detailed', 'every gate with its value and threshold, more counters and history')
    .action(action(async ({ cfg, opts, print }) => {
      const s = await apiOrStore(cfg, 'GET', '/status', undefined, { mutate: null, reason: '' });
      print(formatStatus(s, Boolean(opts.detailed)), s);
      // a pause nobody carries out holds every new transaction of the application until an operator
      // acts: a failure for scripts (1), where a swap in progress, a trip or a degraded store is a warning (2)
      if ((s.pause as PauseState | null | undefined)?.stale) {
        process.stderr.write(`cutover: PAUSED and no proxy is carrying out the promote, rollback or finalize that set it: new transactions wait; run cutover resume\n`);
        return 1;
      }
      return s.tripped || s.degraded || s.paused ? 2 : 0;
    }));
  program
    .command('reads <percent>')
    .description('set the share of reads sent to the new database (0..100); also resumes after a trip')
    .option('--force', 'start reads (from VERIFY or ROLLED_BACK) without a passing verify; audited')
    .action(action(async ({ cfg, opts, print }, percent) => {
      const n = /^\d{1,3}$/.test(percent) ? Number(percent) : NaN; // not Number(): '0x32', '1e1' and '' are not percents
      if (!Number.isInteger(n) || n < 0 || n > 100) throw new CliError(`reads: the read percent must be a whole number from 0 to 100, got "${percent}"`);
      const force = Boolean(opts.force);
      const s = await apiOrStore(cfg, 'PUT', '/reads', { percent: n, ...(force ? { force } : {}) }, { mutate: setReads(cfg.steps, n, { force }), reason: `operator: cutover reads ${n}${force ? ' --force' : ''}` });
      print(readsLine(s), s);
    }));
  program
    .command('step')
    .description('advance reads to the next plan step, only if every gate holds')
    .action(action(async ({ cfg, print }) => {
      const s = await callApi(cfg.control, cfg.token, 'POST', '/step');
      print(`${readsLine(s)} (plan step ${Number(s.planStep) + 1} of ${(s.plan as { steps: number[] }).steps.length})`, s);
    }));
  program
    .command('rollback')
    .description('every read back to the source of truth; phase ROLLED_BACK once the new database takes writes')
    .option('--reason <text>', 'recorded with the rollback')
    .action(action(async ({ cfg, opts, print }) => {
      const reason = (opts.reason as string | undefined) ?? 'operator rollback';
      const s = await apiOrStore(cfg, 'POST', '/rollback', { reason }, { mutate: rollback(), reason }, (cfg.promoteTimeout + 60) * 1000);
      print(s.rollback ? `${swapLine(s, 'rollback')}; source of truth: the ${s.sourceOfTruth} database again` : readsLine(s), s);
    }));
  program
    .command('phase <name>')
    .description(`move the migration to another phase (legal moves only): ${PHASES.join(', ')}`)
    .option('--reason <text>', 'recorded in the audit log')
    .option('--force', 'enter SHIFTING without a passing verify; audited')
    .action(action(async ({ cfg, opts, print }, name) => {
      const phase = name.toUpperCase();
      if (!isPhase(phase)) throw new CliError(`phase: unknown phase "${name}" (one of ${PHASES.join(', ')})`);
      const s = await callApi(cfg.control, cfg.token, 'PUT', '/phase', { phase, ...(opts.reason ? { reason: opts.reason } : {}), ...(opts.force ? { force: true } : {}) });
      print(`phase ${s.phase}`, s);
    }));
  program
    .command('promote')
    .description('make the new database the source of truth: pause new transactions, let in-flight ones finish, swap the roles, resume')
    .option('--force', 'promote before reads reached the last plan step (or while tripped)')
    .option('--promote-timeout <seconds>', 'how long in-flight transactions may take before promote gives up, roles unchanged (default 10)')
    .action(action(async ({ cfg, opts, print }) => {
      const body: Record<string, unknown> = {};
      if (opts.force) body.force = true;
      if (opts.promoteTimeout !== undefined) body.timeoutSeconds = cfg.promoteTimeout;
      // the window plus the flip: the proxy answers when the roles have swapped (or not)
      const s = await callApi(cfg.control, cfg.token, 'POST', '/promote', body, (cfg.promoteTimeout + 60) * 1000);
      print(`${swapLine(s, 'promote')}; source of truth: the ${s.sourceOfTruth} database`, s);
    }));
  program
    .command('resume')
    .description('lift the pause left by a promote, rollback or finalize whose proxy died before it resumed: capture is put back where the recorded roles say, then new transactions flow again; roles unchanged')
    .option('--reason <text>', 'recorded in the audit log')
    .option('--force', 'even if the pause is recent (a promote may still be running on another proxy)')
    .action(action(async ({ cfg, opts, print }) => {
      const reason = (opts.reason as string | undefined) ?? 'operator: resume after an interrupted promote, rollback or finalize';
      const force = Boolean(opts.force);
      let s: Record<string, unknown>;
      try {
        s = await callApi(cfg.control, cfg.token, 'POST', '/resume', { reason, ...(force ? { force } : {}) }, 60_000);
      } catch (e) {
        if (!(e instanceof NoProxy)) throw e;
        s = await resumeDirect(cfg, reason, force, e.message);
      }
      const r = s.resume as { pausedForMs: number | null; captureTables: number } | undefined;
      print(`pause lifted${r?.pausedForMs != null ? ` after ${(r.pausedForMs / 1000).toFixed(0)} s` : ''}; source of truth: the ${String(s.sourceOfTruth)} database (unchanged), capture on ${r?.captureTables ?? 0} table(s) there; phase ${String(s.phase)}${s.direct ? ' (no proxy answered: state store changed directly)' : ''}`, s);
    }));
  program
    .command('finalize')
    .description('remove capture objects from both databases; the proxy forwards only to the new one; final')
    .action(action(async ({ cfg, print }) => {
      const s = await callApi(cfg.control, cfg.token, 'POST', '/finalize', undefined, (cfg.promoteTimeout + 60) * 1000);
      print(`${swapLine(s, 'finalize')}; capture removed from ${(s.finalize as { captureTables?: number } | undefined)?.captureTables ?? 0} table(s) left on the legacy database and from the new one`, s);
    }));
  registerRunCommand(program);
}
