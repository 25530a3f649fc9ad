// Shared bench plumbing: pgbench runs and their figures, medians, child processes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';

/** The system's temporary directory, for what a bench leaves for the reader (CPU profiles). */
export const keptTmp = os.tmpdir();
// Everything else a bench run writes there (state databases, clusters, sockets) goes under one
// directory removed at exit; the children it starts inherit TMPDIR. Mode 1777 as /tmp's own: the
// clusters run as the postgres user when the bench runs as root.
const scratch = mkdtempSync(path.join(keptTmp, 'cutover-bench-'));
chmodSync(scratch, 0o1777);
process.env.TMPDIR = scratch;
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

export const run = promisify(execFile);

export interface PgbenchResult {
  tps: number;
  latencyMs: number;
  processed: number;
  failed: number;
}

export async function pgbench(binDir: string, args: string[], env: Record<string, string> = {}): Promise<PgbenchResult> {
  const { stdout } = await run(path.join(binDir, 'pgbench'), args, { env: { ...process.env, PGPASSWORD: 'postgres', ...env }, maxBuffer: 64 << 20 });
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? NaN);
  return {
    tps: num(/tps = ([\d.]+)/),
    latencyMs: num(/latency average = ([\d.]+) ms/),
    processed: num(/number of transactions actually processed: (\d+)/),
    failed: num(/number of failed transactions: (\d+)/) || 0,
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : Number(process.env[`BENCH_${name.toUpperCase()}`] ?? fallback);
}

/** Start a long-running child; resolves once `ready` appears in its output. */
export async function startChild(cmd: string, args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not become ready: ${out.slice(-500)}`)), 20_000);
    const on = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code) => reject(new Error(`${cmd} exited ${code}: ${out.slice(-500)}`)));
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

export function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padStart(widths[i]!)).join('  ')).join('\n');
}
