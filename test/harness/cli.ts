// Running the real `cutover` command line from tests: one-shot, or a long-running proxy.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const CLI = path.resolve('control/cutover.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `timeoutMs`: a command that may hang is killed then (its code is then null, as no exit code). */
export async function cli(args: string[], env: Record<string, string> = {}, opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run('node', [CLI, ...args], { env: { ...process.env, ...env }, timeout: opts.timeoutMs ?? 0, killSignal: 'SIGKILL' });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

export interface RunningCli {
  child: ChildProcess;
  /** Everything written to stderr so far (the JSON log). */
  log(): string;
  exited: Promise<number>;
}

/** Start a long-running command and wait until its log shows `ready`. */
export async function spawnCli(args: string[], ready: string, env: Record<string, string> = {}): Promise<RunningCli> {
  // never the default .cutover/state.db of the working directory: each run its own state
  if (!args.includes('--state')) args = [...args, '--state', path.join(mkdtempSync(path.join(os.tmpdir(), 'cutover-state-')), 'state.db')];
  const child = spawn('node', [CLI, ...args], { env: { ...process.env, CUTOVER_LOG_JSON: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  for (let i = 0; i < 150 && !log.includes(ready); i++) await new Promise((r) => setTimeout(r, 100));
  if (!log.includes(ready)) {
    child.kill('SIGKILL');
    throw new Error(`cutover ${args[0]} did not log "${ready}": ${log.slice(-500)}`);
  }
  return { child, log: () => log, exited };
}
