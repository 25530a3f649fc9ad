// `cutover schema`, `backfill`, `verify`, `check` and `backup`: thin command
// bodies over the modules of this directory.
import type { Command } from 'commander';
import { requireKey } from '../common/config.ts';
import { CliError } from '../common/errors.ts';
import { parseDbUrl } from '../common/urls.ts';
import { action } from '../control/cli-support.ts';
import { registerVerifyCommand } from './verify/command.ts';
import { registerCheckCommand } from './check/command.ts';

function postgresTarget(url: string): string {
  if (parseDbUrl(url, 'target').kind !== 'postgres') throw new CliError('target: must be a PostgreSQL database (postgres://…)');
  return url;
}

export function registerBackfillCommands(program: Command): void {
  program
    .command('schema')
    .description('print the target schema made from the source (PostgreSQL or SQLite); --apply creates it on the target')
    .option('--apply', 'create the tables on the target (one transaction; existing tables are left alone)')
    .option('--tables <list>', 'only these tables (comma-separated)')
    .action(action(async ({ cfg, opts, print }) => {
      const [{ readSourceSchema }, { planScript }, { applySchema }] = await Promise.all([import('./schema/read-source.ts'), import('./schema/ddl.ts'), import('./schema/apply.ts')]);
      const plan = await readSourceSchema(requireKey(cfg, 'source'), cfg.tables);
      const unmapped = plan.unmapped.map((u) => `${u.table}${u.column ? '.' + u.column : ''}: ${u.what}: ${u.reason}`);
      if (!opts.apply) {
        print(planScript(plan), { tables: plan.tables, prelude: plan.prelude, unmapped: plan.unmapped }, { verbatim: true });
        return unmapped.length ? 2 : 0;
      }
      const res = await applySchema(postgresTarget(requireKey(cfg, 'target')), plan);
      const warnings = [...unmapped, ...res.refused.map((u) => `${u.table}: ${u.what}: ${u.reason}`)];
      const lines = [
        `schema: ${res.created.length} table(s) created${res.existing.length ? `, ${res.existing.length} already there (left alone): ${res.existing.join(', ')}` : ''}`,
        ...res.created.map((t) => `  created ${t}`),
        ...(warnings.length ? ['not carried over as-is:', ...warnings.map((w) => `  ${w}`)] : []),
        'foreign keys and secondary indexes are created by `cutover backfill` once the history is in',
      ];
      print(lines.join('\n'), { ok: true, ...res, unmapped: plan.unmapped });
      return warnings.length ? 2 : 0;
    }));

  program
    .command('backfill')
    .description('copy history to the target in key order, race-safe with the mirror; resumable')
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--batch-size <n>', 'rows per batch (default 10000)')
    .option('--workers <n>', 'key ranges copied at once (default 2)')
    .option('--split-rows <n>', 'a table of at least twice this many rows is copied as several key ranges at once, up to --workers (default 200000)')
    .option('--max-rate <rows/s>', 'cap on rows copied per second (default: none)')
    .option('--retry-attempts <n>', 'retries of a batch after a transient error (default 3)')
    .option('--resume', 'continue from the checkpoints of an earlier run')
    .action(action(async ({ cfg, opts, print }) => {
      const [{ progressSink }, { BackfillError, runBackfill }] = await Promise.all([import('./copy/progress.ts'), import('./copy/run-backfill.ts')]);
      const sink = progressSink(cfg.json);
      let res;
      try {
        res = await runBackfill({
          source: requireKey(cfg, 'source'),
          target: postgresTarget(requireKey(cfg, 'target')),
          state: cfg.state,
          tables: cfg.tables,
          batchSize: cfg.batchSize,
          workers: cfg.workers,
          splitRows: cfg.splitRows,
          maxRate: cfg.maxRate,
          retryAttempts: cfg.retryAttempts,
          resume: Boolean(opts.resume),
          onEvent: (e) => sink.on(e),
        });
      } catch (e) {
        if (e instanceof BackfillError) throw new CliError(`backfill: ${e.message}${opts.resume ? '' : ' (after fixing it, `cutover backfill --resume` continues where it stopped)'}`);
        throw e;
      } finally {
        sink.stop();
      }
      const lines = [
        `backfill: ${res.rows} rows in ${res.seconds.toFixed(1)} s (${Math.round(res.rows / Math.max(res.seconds, 0.001))} rows/s)`,
        ...res.tables.map((t) => `  ${t.table.padEnd(32)} ${String(t.rows).padStart(10)} rows${t.skipped ? '  (done in an earlier run)' : `  ${t.seconds.toFixed(1)} s`}`),
        ...res.postCopy.map((p) => `  created ${p}`),
      ];
      print(lines.join('\n'), { ok: true, event: 'summary', ...res });
      return res.warnings.length ? 2 : 0;
    }));

  registerVerifyCommand(program);
  registerCheckCommand(program);

  program
    .command('backup')
    .description('online backup of the source into the backup directory (SQLite backup API or pg_dump), mode 0600, with its SHA-256')
    .action(action(async ({ cfg, print }) => {
      const { BackupError, takeBackup } = await import('./backup.ts');
      try {
        const r = await takeBackup(requireKey(cfg, 'source'), cfg.backupDir, cfg.state);
        print(`backup: ${r.file} (${r.bytes} bytes, sha256 ${r.sha256}) in ${r.seconds.toFixed(1)} s`, { ok: true, ...r });
      } catch (e) {
        if (e instanceof BackupError) throw new CliError(`backup: ${e.message}`);
        throw e;
      }
    }));
}
