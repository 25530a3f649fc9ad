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
      const { runDemo } = await import('./run-demo.ts');
      const { ok, report } = await runDemo(
        { soakSeconds: Number(opts.soak ?? 3), historyRows: Number(opts.rows ?? 5000), json: cfg.json, legacy },
        (line) => { if (!cfg.json) process.stdout.write(line + '\n'); },
      );
      if (cfg.json) print('', report);
      return ok ? 0 : 1;
    }));
}
