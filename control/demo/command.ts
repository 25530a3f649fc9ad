// `cutover demo`: registered beside the steering commands.
import type { Command } from 'commander';
import { CliError } from '../../common/errors.ts';
import { action } from '../cli-support.ts';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('the whole story on embedded databases (PostgreSQL or SQLite legacy, PostgreSQL new), under load: every phase up to PROMOTED')
    .option('--soak <seconds>', 'time spent in each phase (default 3)')
    .option('--rows <n>', 'history rows in the legacy database before the migration (default 5000)')
    .option('--legacy <kind>', 'the legacy database: postgres (a second embedded cluster) or sqlite (an SQLite file served by the proxy); default postgres')
    .action(action(async ({ cfg, opts, print }) => {
      const legacy = String(opts.legacy ?? 'postgres');
      if (legacy !== 'postgres' && legacy !== 'sqlite') throw new CliError(`--legacy: expected postgres or sqlite, not ${legacy}`);
      const soakSeconds = count('--soak', opts.soak, 3, true);
      const historyRows = count('--rows', opts.rows, 5000);
      const { runDemo } = await import('./run-demo.ts');
      const { ok, report } = await runDemo(
        { soakSeconds, historyRows, json: cfg.json, legacy },
        (line) => { if (!cfg.json) process.stdout.write(line + '\n'); },
      );
      if (cfg.json) print('', report);
      return ok ? 0 : 1;
    }));
}

/** A number of at least 0 in decimal digits (a whole one unless `fraction`), or the default when not given. */
function count(flag: string, v: unknown, fallback: number, fraction = false): number {
  if (v === undefined) return fallback;
  const ok = typeof v === 'string' && (fraction ? /^\d{1,9}(\.\d+)?$/ : /^\d{1,9}$/).test(v);
  if (!ok) throw new CliError(`${flag}: expected ${fraction ? 'a number of seconds' : 'a whole number'}, got "${String(v)}"`);
  return Number(v);
}
