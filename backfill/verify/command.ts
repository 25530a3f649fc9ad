// `cutover verify [--tables] [--repair] [--json]`: exit 0 equal, 1 differences,
// 2 equal with warnings; a JSON report goes to the report directory, and the
// result to the migration's state, where the gate before SHIFTING reads it.
import type { Command } from 'commander';
import { loadConfig, requireKey } from '../../common/config.ts';
import { CliError } from '../../common/errors.ts';
import { action } from '../../control/cli-support.ts';
import { recordedSourceOfTruth, recordVerifyResult, verifyOutcome } from '../../control/record-verify.ts';
import type { TableReport } from './run-verify.ts';

function describe(t: TableReport): string[] {
  const head = `  ${t.table.padEnd(28)} ${String(t.sourceRows).padStart(10)} / ${String(t.targetRows).padEnd(10)} rows  `;
  if (t.equal) return [head + (t.repaired ? `equal after repairing ${t.repaired} row(s)` : 'equal')];
  const lines = [head + `DIFFERENT: ${t.missing} missing, ${t.extra} extra, ${t.different} different`];
  const key = (k: string[]) => t.key.map((name, i) => `${name}=${k[i]}`).join(', ');
  for (const d of t.differences.slice(0, 20)) lines.push(`    ${d.kind.padEnd(9)} ${key(d.key)}${d.columns ? `: ${d.columns.join(', ')}` : ''}`);
  const more = t.missing + t.extra + t.different - Math.min(20, t.differences.length);
  if (more > 0) lines.push(`    … and ${more} more (see the report)`);
  return lines;
}

/** The migration's tables (config file or CUTOVER_TABLES), which a --tables of this run may narrow. */
const configuredTables = (opts: Record<string, unknown>) => loadConfig({ config: opts.config }).tables;

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('compare source and target row by row (chunk checksums, narrowed to rows, re-checked); exit 0 equal, 1 differences, 2 equal with warnings')
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--repair', 'rewrite differing rows on the target from the source, then compare again')
    .action(action(async ({ cfg, opts, print }) => {
      // --repair rewrites --target from --source: after promote that would undo the new database's writes with the legacy copy
      if (opts.repair && (await recordedSourceOfTruth(cfg)) === 'new') {
        throw new CliError('verify: --repair refused: the new database (--target) has been the source of truth since promote, and a repair rewrites --target from --source, which would undo its writes with the legacy copy; compare without --repair (the legacy database is kept current by the reverse mirror), or cutover rollback first');
      }
      // known before the comparison, which may take hours: a capture check failing after it would lose the result
      const { notCompared, replicatedTables } = await import('../../control/verify-scope.ts');
      const replicated = await replicatedTables(cfg, configuredTables(opts));
      const { runVerify, VerifyError } = await import('./run-verify.ts');
      let r;
      try {
        r = await runVerify({
          source: requireKey(cfg, 'source'),
          target: requireKey(cfg, 'target'),
          tables: cfg.tables,
          repair: Boolean(opts.repair),
          reportDir: cfg.reportDir,
        });
      } catch (e) {
        if (e instanceof VerifyError) throw new CliError(`verify: ${e.message}`);
        throw e;
      }
      const left = notCompared(r, replicated);
      const recorded = await recordVerifyResult(cfg, verifyOutcome(r, left), left);
      const differing = r.tables.filter((t) => !t.equal).length + r.uncompared.length;
      const total = r.tables.length + r.uncompared.length;
      const rows = r.tables.reduce((a, t) => a + t.sourceRows, 0);
      const lines = [
        differing
          ? `verify: ${differing} of ${total} table(s) differ`
          : `verify: all ${r.tables.length} table(s) equal (${rows} rows) in ${r.seconds.toFixed(1)} s`,
        ...r.tables.flatMap(describe),
        ...r.uncompared.map((u) => `  ${u.table.padEnd(28)} DIFFERENT: ${u.reason}; not compared`),
        ...r.warnings.map((w) => `warning: ${w}`),
        ...(recorded.warning ? [`warning: ${recorded.note}`] : []),
        ...(r.file ? [`report: ${r.file}`] : []),
        ...(recorded.warning ? [] : [recorded.note]),
      ];
      print(lines.join('\n'), { ...r, recorded: recorded.recorded, recordNote: recorded.note });
      return differing ? 1 : r.warnings.length || recorded.warning ? 2 : 0;
    }));
}
