// `cutover run [--dry-run] [--yes]`: drives the plan through the proxy at
// --control, stage by stage from wherever the migration is, and stops at the
// first failure with the reason and the command that resumes.
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { CliError } from '../../common/errors.ts';
import type { Phase } from '../../common/live-state.ts';
import { action } from '../cli-support.ts';
import { callApi } from '../client.ts';
import type { Doc, RunContext, StageName } from './stages.ts';

const STAGE_NAMES: StageName[] = ['check', 'backup', 'capture', 'backfill', 'verify', 'steps', 'promote'];

function parseSkip(list: string | undefined): Set<StageName> {
  const names = (list ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) if (!STAGE_NAMES.includes(n as StageName)) throw new CliError(`--skip: unknown stage "${n}" (stages: ${STAGE_NAMES.join(', ')})`);
  return new Set(names as StageName[]);
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('drive the plan: check → backup → capture → backfill → verify → read steps → promote, with gates')
    .option('--dry-run', 'print the plan and exit without changing anything')
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--soak <seconds>', 'time each read step is held while the gates are watched (default 60)')
    .option('--skip <stages>', `stages to pass over, comma-separated (${STAGE_NAMES.join(', ')})`)
    .action(action(async ({ cfg, opts, print }) => {
      const skip = parseSkip(opts.skip as string | undefined);
      const { NotAvailable, startIndex, stages } = await import('./stages.ts');
      const api = (method: string, path: string, body?: unknown) => callApi(cfg.control, cfg.token, method, path, body, Math.max(30, cfg.promoteTimeout + 30) * 1000);
      const say = (line: string, data: Doc = {}) => process.stdout.write(cfg.json ? JSON.stringify({ progress: line, ...data }) + '\n' : line + '\n');
      const ctx: RunContext = { cfg, api, say, soakSeconds: cfg.soak };
      const all = stages();
      const status = await api('GET', '/status');
      const phase = status.phase as Phase;
      const from = startIndex(all, phase, Boolean(status.verifiedAt));
      const plan = status.plan as { steps: number[] };
      const resume = `cutover run --yes --control ${cfg.control}${opts.skip ? ` --skip ${String(opts.skip)}` : ''}${opts.soak ? ` --soak ${String(opts.soak)}` : ''}`;

      const lines = [`phase ${phase}; reads ${status.effectiveReadPercent} %; plan ${plan.steps.join(' → ')} %, ${cfg.soak} s soak each`];
      all.forEach((st, i) => {
        const state = typeof from === 'string' || i < from ? 'done' : skip.has(st.name) ? 'skip (--skip)' : st.run ? 'run' : 'NOT AVAILABLE in this build';
        lines.push(`  ${st.name.padEnd(9)} ${st.phase.padEnd(10)} ${state.padEnd(28)} ${st.what}`);
      });
      lines.push(`gates: target errors ≤ ${cfg.maxErrorRate * 100} %, shadow mismatches ≤ ${cfg.maxMismatchRate * 100} %, p99 latency ≤ ${cfg.maxLatencyRatio}× the source, breaker closed, no dirty keys`);
      if (opts.dryRun) {
        print(['plan (dry run: nothing changed)', ...lines, typeof from === 'string' ? from : ''].filter(Boolean).join('\n'), { dryRun: true, phase, stages: all.map((s, i) => ({ name: s.name, phase: s.phase, done: typeof from === 'string' || i < from, skip: skip.has(s.name), available: Boolean(s.run) })) });
        return 0;
      }
      if (typeof from === 'string') throw new CliError(from);
      if (!opts.yes) {
        if (!process.stdin.isTTY) throw new CliError('run changes the migration: confirm with --yes (stdin is not a terminal to ask on)');
        process.stderr.write(lines.join('\n') + '\n');
        if (!(await confirm('Proceed? [y/N] '))) throw new CliError('run: not confirmed');
      }

      const started = Date.now();
      for (const st of all.slice(from)) {
        // a stage this build lacks stops the run before its phase is entered
        if (!st.run && !skip.has(st.name) && st.name !== 'promote') throw new CliError(`run stopped at ${st.name}: ${new NotAvailable(st.name).message}; resume with: ${resume}`);
        const current = (await api('GET', '/status')).phase as Phase;
        // the steps stage moves the phase itself (POST /step), promote through its own command; from
        // ROLLED_BACK (no legal move to VERIFY) verify compares in place and the steps move on from there
        if (current !== st.phase && st.name !== 'steps' && st.name !== 'promote' && !(st.name === 'verify' && current === 'ROLLED_BACK')) {
          await api('PUT', '/phase', { phase: st.phase, reason: `cutover run: ${st.name}${skip.has(st.name) ? ' skipped (--skip)' : ''}` });
        }
        if (skip.has(st.name)) {
          say(`${st.name}: skipped (--skip)`, { stage: st.name, skipped: true });
          continue;
        }
        const t0 = Date.now();
        try {
          if (!st.run) throw new NotAvailable(st.name);
          say(`${st.name}: ${st.what}…`, { stage: st.name, started: true });
          const outcome = await st.run(ctx);
          say(`${st.name}: ${outcome} (${((Date.now() - t0) / 1000).toFixed(1)} s)`, { stage: st.name, done: true });
        } catch (e) {
          const reason = (e as Error).message;
          throw new CliError(`run stopped at ${st.name}: ${reason}; resume with: ${resume}`);
        }
      }
      const end = await api('GET', '/status');
      print(`run complete in ${((Date.now() - started) / 1000).toFixed(1)} s: phase ${end.phase}, reads ${end.effectiveReadPercent} %`, { ok: true, phase: end.phase, readPercent: end.effectiveReadPercent });
      return 0;
    }));
}
