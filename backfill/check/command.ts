// `cutover check`: exit 0 nothing to fix, 1 errors, 2 warnings only.
import type { Command } from 'commander';
import { requireKey } from '../../common/config.ts';
import { action } from '../../control/cli-support.ts';

export function registerCheckCommand(program: Command): void {
  program
    .command('check')
    .description('pre-flight: connectivity, primary keys, schema compatibility, data the target will refuse, conflicts, password-hash formats, backup room; exit 0 / 1 errors / 2 warnings')
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--skip-backup', 'no backup will be taken: skip the backup directory checks')
    .action(action(async ({ cfg, opts, print }) => {
      const { runCheck } = await import('./run-check.ts');
      const r = await runCheck({
        source: requireKey(cfg, 'source'),
        target: requireKey(cfg, 'target'),
        tables: cfg.tables,
        backupDir: cfg.backupDir,
        reportDir: cfg.reportDir,
        skipBackup: Boolean(opts.skipBackup) || cfg.skipBackup,
      });
      const tag = { error: 'ERROR  ', warning: 'WARNING', info: 'ok     ' } as const;
      const lines = r.findings.map((f) => {
        const where = [f.table, f.column].filter(Boolean).join('.');
        const keys = f.keys?.length ? `\n          keys: ${f.keys.join(' | ')}${(f.rows ?? 0) > f.keys.length ? ' …' : ''}` : '';
        return `${tag[f.severity]} ${f.check.padEnd(14)} ${where ? where + ': ' : ''}${f.message}${keys}`;
      });
      const errors = r.findings.filter((f) => f.severity === 'error').length;
      const warnings = r.findings.filter((f) => f.severity === 'warning').length;
      lines.push(`check: ${errors} error(s), ${warnings} warning(s)${r.file ? `; report: ${r.file}` : ''}`);
      print(lines.join('\n'), r);
      return r.exitCode;
    }));
}
