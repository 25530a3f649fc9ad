// `cutover capture install|remove|status`: change capture on the source of truth.
import type { Command } from 'commander';
import pg from 'pg';
import { requireKey } from '../../common/config.ts';
import { CliError } from '../../common/errors.ts';
import { pgClientConfig } from '../../common/pg-config.ts';
import { parseDbUrl } from '../../common/urls.ts';
import { action } from '../../control/cli-support.ts';
import { CaptureError, captureStatus, installCapture, removeCapture } from './pg-capture.ts';
import { BackupError, takeBackup } from '../../backfill/backup.ts';

async function withSource<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  if (parseDbUrl(url, 'source').kind !== 'postgres') throw new CliError('capture for an SQLite source runs inside the proxy; nothing to install');
  const c = new pg.Client(pgClientConfig(url));
  await c.connect();
  try {
    return await fn(c);
  } catch (e) {
    if (e instanceof CaptureError) throw new CliError(e.message);
    throw e;
  } finally {
    await c.end();
  }
}

export function registerCaptureCommands(program: Command): void {
  const capture = program.command('capture').description('change capture on the source of truth (install | remove | status)');
  capture
    .command('install')
    .description('create the change table and capture triggers on every replicated table (idempotent)')
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--skip-backup', 'do not take the backup of the source first')
    .action(action(async ({ cfg, print }) => {
      const source = requireKey(cfg, 'source');
      if (parseDbUrl(source, 'source').kind !== 'postgres') throw new CliError('capture for an SQLite source runs inside the proxy; nothing to install');
      let backup = null;
      const status = await withSource(source, (c) => captureStatus(c));
      // the backup comes before capture changes anything on the source (once: re-running install takes none)
      if (!cfg.skipBackup && !status.installed) {
        try {
          backup = await takeBackup(source, cfg.backupDir, cfg.state);
        } catch (e) {
          if (e instanceof BackupError) throw new CliError(`capture install: ${e.message}`);
          throw e;
        }
      }
      const tables = await withSource(source, (c) => installCapture(c, cfg.tables));
      const note = backup ? `backup ${backup.file} (sha256 ${backup.sha256.slice(0, 16)}…); ` : '';
      print(`${note}capture installed on ${tables.length} table(s): ${tables.map((t) => `${t.schema}.${t.name}`).join(', ')}`, { ok: true, backup, tables: tables.map((t) => `${t.schema}.${t.name}`) });
    }));
  capture
    .command('remove')
    .description('drop every capture trigger, function and the change table')
    .action(action(async ({ cfg, print }) => {
      const n = await withSource(requireKey(cfg, 'source'), (c) => removeCapture(c));
      print(`capture removed from ${n} table(s)`, { ok: true, tables: n });
    }));
  capture
    .command('status')
    .description('which tables are captured, and the change rows waiting')
    .action(action(async ({ cfg, print }) => {
      const s = await withSource(requireKey(cfg, 'source'), (c) => captureStatus(c));
      const lines = [`capture ${s.installed ? 'installed' : 'not installed'}; ${s.pending} change row(s) waiting`];
      for (const t of s.tables) lines.push(`  ${t.captured ? 'captured  ' : t.hasKey ? 'not yet   ' : 'NO KEY    '} ${t.table}`);
      print(lines.join('\n'), s);
      const missing = s.tables.filter((t) => !t.captured);
      return s.installed && missing.length ? 2 : 0;
    }));
}
