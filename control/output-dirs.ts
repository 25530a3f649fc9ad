// The directories a command writes into, made before the command runs: a
// verify or a check that cannot write its report, or a backup its file, says
// so at once instead of after the work (an hour of comparing, a dump). A
// directory that cannot be made, or written into, is one line and exit 1
// (common/make-dir.ts).
import type { Command } from 'commander';
import type { Config } from '../common/config.ts';
import { checkWritable, makeDir } from '../common/make-dir.ts';

type Dir = { flag: string; dir: string; mode?: number };

// backups hold password hashes: their directory is the owner's alone, as backfill/backup.ts makes it
const backups = (cfg: Config): Dir[] => (cfg.skipBackup ? [] : [{ flag: '--backup-dir', dir: cfg.backupDir, mode: 0o700 }]);
const reports = (cfg: Config): Dir[] => [{ flag: '--report-dir', dir: cfg.reportDir }];

/** By command path (`capture install`); commands not named write into neither directory. */
const WRITES: Record<string, (cfg: Config, opts: Record<string, unknown>) => Dir[]> = {
  backup: (cfg) => [{ flag: '--backup-dir', dir: cfg.backupDir, mode: 0o700 }],
  'capture install': backups,
  check: (cfg) => [...backups(cfg), ...reports(cfg)],
  verify: reports,
  // a dry run changes nothing, not even a directory
  run: (cfg, opts) => (opts.dryRun ? [] : [...backups(cfg), ...reports(cfg)]),
};

/** `capture install`, `verify`: the command's name under `cutover`. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export function makeOutputDirs(cmd: Command, cfg: Config, opts: Record<string, unknown>): void {
  // every command here needs --source and refuses to start without it: it must leave no directories behind either
  if (!cfg.source) return;
  for (const d of WRITES[commandPath(cmd)]?.(cfg, opts) ?? []) {
    makeDir(d.dir, d.flag, d.mode);
    checkWritable(d.dir, d.flag);
  }
}
