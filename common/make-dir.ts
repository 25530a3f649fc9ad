// Directories the tool writes into (backups, reports, state), made one level at
// a time. Node's recursive mkdir never returns where mkdir(2) answers ENOENT
// under a parent that exists (anywhere in /proc, under a dangling symlink): it
// reads ENOENT as "parent missing", makes the parent (EEXIST) and tries again,
// at 100 % CPU. Here each level is tried once, and a refusal names the directory.
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';

export class DirError extends Error {}

const errCode = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

function isDir(p: string): boolean | null {
  try {
    return statSync(p).isDirectory();
  } catch {
    return null;
  }
}

/** Makes `dir` and its missing parents (like `mkdir -p`); `what` names it in errors, e.g. "--backup-dir". */
export function makeDir(dir: string, what: string, mode = 0o777): void {
  const missing: string[] = [];
  let at = path.resolve(dir);
  for (let exists = isDir(at); exists !== true; exists = isDir(at)) {
    if (exists === false) throw new DirError(`${what} ${dir}: ${at} is not a directory`);
    missing.unshift(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const level of missing) {
    try {
      mkdirSync(level, { mode });
    } catch (e) {
      // made meanwhile by another process is as good
      if (errCode(e) === 'EEXIST' && isDir(level)) continue;
      throw new DirError(`${what} ${dir}: cannot create ${level} (${errCode(e) === 'EEXIST' ? 'it exists but is no directory, or a symlink to nowhere' : errCode(e)})`);
    }
  }
}

/**
 * Whether a file can be created in `dir`, by creating one and removing it: a directory that exists
 * but is not writable (its mode, a read-only mount) failed only when the report or backup was written,
 * after the work, as "EACCES: permission denied, open '…'". A permission check alone is not enough:
 * root passes it on a read-only file system.
 */
export function checkWritable(dir: string, what: string): void {
  const probe = path.join(dir, `.cutover-write-check-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    closeSync(openSync(probe, 'wx', 0o600));
  } catch (e) {
    throw new DirError(`${what} ${dir}: cannot write there (${errCode(e)})`);
  }
  unlinkSync(probe);
}
