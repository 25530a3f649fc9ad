// Room for the backup: the directory exists or can be made, is writable, and
// its file system has space for a copy of the source (plus a margin).
import { rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { makeDir } from '../../common/make-dir.ts';
import path from 'node:path';
import type { Finding } from './findings.ts';

export function backupDirFindings(dir: string, sourceBytes: number): Finding[] {
  try {
    makeDir(dir, '--backup-dir', 0o700);
    const probe = path.join(dir, `.cutover-write-test-${process.pid}`);
    writeFileSync(probe, 'x', { mode: 0o600 });
    rmSync(probe);
  } catch (e) {
    return [{ severity: 'error', check: 'backup-dir', message: `backup directory ${dir} is not writable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }];
  }
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  const need = Math.ceil(sourceBytes * 1.2);
  if (free < need) {
    return [{ severity: 'error', check: 'disk', message: `backup directory ${dir} has ${mb(free)} free; a backup of the source needs about ${mb(need)}` }];
  }
  return [{ severity: 'info', check: 'disk', message: `backup directory ${dir}: ${mb(free)} free, backup needs about ${mb(need)}` }];
}

const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MB`;

export function sqliteFileBytes(file: string): number {
  let n = statSync(file).size;
  try {
    n += statSync(file + '-wal').size;
  } catch {
    /* no WAL file */
  }
  return n;
}
