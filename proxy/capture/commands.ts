// `cutover capture install|remove|status`: change capture on the source of truth
// (triggers on a PostgreSQL source, or triggers inside an SQLite source file).
import type { Command } from 'commander';
import { CliError } from '../../common/errors.ts';
import { parseDbUrl } from '../../common/urls.ts';
import { action } from '../../control/cli-support.ts';
import { captureOn, withSource } from './on-source-of-truth.ts';

export function registerCaptureCommands(program: Command): void {
  const capture = program.command('capture').description('change capture on the source of truth (install | remove | status)');
  capture
    .command('install')
    .description('create the change table and capture triggers on every replicated table (idempotent)')
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--skip-backup', 'do not take the backup of the source first')
    .action(action(async ({ cfg, print }) => {
      const { url: source, mirror, note: where } = await captureOn(cfg);
      if (mirror && parseDbUrl(mirror, 'target').kind === 'postgres') {
        const { missingOnTarget, missingMessage } = await import('../../backfill/schema/missing-on-target.ts');
        const missing = await missingOnTarget(source, mirror, cfg.tables);
        if (missing.length) throw new CliError(missingMessage(missing));
      }
      let backup = null;
      const status = await withSource(source, (c) => c.status());
      // the backup comes before capture changes anything on the source (once: re-running install takes none)
      if (!cfg.skipBackup && !status.installed) {
        const { BackupError, takeBackup } = await import('../../backfill/backup.ts');
        try {
          backup = await takeBackup(source, cfg.backupDir, cfg.state);
        } catch (e) {
          if (e instanceof BackupError) throw new CliError(`capture install: ${e.message}`);
          throw e;
        }
      }
      const tables = await withSource(source, (c) => c.install(cfg.tables));
      const after = await withSource(source, (c) => c.status());
      const note = backup ? `backup ${backup.file} (sha256 ${backup.sha256.slice(0, 16)}…); ` : '';
      // PostgreSQL only: an SQLite source has no functions to hide DDL in
      const unguarded = after.ddlGuard === false ? '\nnote: DDL run inside functions and DO blocks is not refused (the event trigger that catches it needs a superuser)' : '';
      // a table captured only now had writes that never reached the other database: a pass recorded before misses them
      const was = new Set(status.tables.filter((t) => t.captured).map((t) => t.table));
      const added = after.tables.filter((t) => t.captured && !was.has(t.table)).map((t) => t.table);
      const { clearedOutput, clearVerifyPass, fewByName } = await import('../../control/record-verify.ts');
      const cleared = added.length ? await clearVerifyPass(cfg, `capture newly installed${where} on ${fewByName(added)}, whose writes before it never reached the other database`, 'cutover capture install: verify pass cleared') : null;
      const stale = clearedOutput(cleared);
      print(`${note}capture installed${where} on ${tables.length} table(s): ${tables.join(', ')}${unguarded}${stale.line}`, { ok: true, backup, tables, ddlGuard: after.ddlGuard ?? null, ...stale.json });
      return cleared?.warning ? 2 : 0;
    }));
  capture
    .command('remove')
    .description('drop every capture trigger, function and the change table')
    .action(action(async ({ cfg, print }) => {
      const on = await captureOn(cfg);
      const { had, n } = await withSource(on.url, async (c) => ({ had: (await c.status()).installed, n: await c.remove() }));
      // writes stop reaching the other database: a pass recorded before says nothing about it from now on
      const { clearedOutput, clearVerifyPass } = await import('../../control/record-verify.ts');
      const cleared = had || n ? await clearVerifyPass(cfg, `capture removed${on.note} by cutover capture remove, so writes no longer reach the other database`, 'cutover capture remove: verify pass cleared') : null;
      const stale = clearedOutput(cleared);
      print(`capture removed${on.note} from ${n} table(s)${stale.line}`, { ok: true, tables: n, ...stale.json });
      return cleared?.warning ? 2 : 0;
    }));
  capture
    .command('status')
    .description('which tables are captured, and the change rows waiting')
    .action(action(async ({ cfg, print }) => {
      const on = await captureOn(cfg);
      const s = await withSource(on.url, (c) => c.status());
      const guard = s.installed && s.ddlGuard !== undefined ? `; DDL inside functions and DO blocks ${s.ddlGuard ? 'refused' : 'NOT refused (the event trigger needs a superuser)'}` : '';
      const lines = [`capture ${s.installed ? 'installed' : 'not installed'}${on.note}; ${s.pending} change row(s) waiting${guard}`];
      const outdated = s.format && s.format.installed !== s.format.current;
      if (outdated) lines.push(`capture format ${s.format!.installed ?? 'older'} installed, this Cutover writes ${s.format!.current}: run "cutover capture install" again (idempotent) for what it adds`);
      for (const t of s.tables) lines.push(`  ${t.captured ? 'captured  ' : t.hasKey ? 'not yet   ' : 'NO KEY    '} ${t.table}`);
      print(lines.join('\n'), s);
      // not installed at all: no table is captured (a script checking for 0 must not read it as ready)
      const missing = s.tables.filter((t) => !t.captured);
      return !s.installed || missing.length || outdated ? 2 : 0;
    }));
}
