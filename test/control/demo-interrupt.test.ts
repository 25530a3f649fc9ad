// `cutover demo` interrupted (Ctrl-C, a CI job's SIGTERM) ended at once and
// left its two throwaway PostgreSQL servers running, with their data
// directories. Now they are stopped and removed first; exit 1 with one line.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { CLI } from '../harness/cli.ts';

/** Processes whose command line mentions `dir`; `servers`: only PostgreSQL servers (postgres -D <data directory there>). */
function processesUnder(dir: string, servers = false): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (args.some((a) => a.includes(dir)) && (!servers || (/postgres$/.test(args[0]!) && args[1] === '-D'))) pids.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}

it('SIGTERM during the demo stops and removes its servers, then exits 1 saying so', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'cutover-demo-int-'));
  // the servers may run as the postgres user, who must reach their directories under it
  chmodSync(tmp, 0o755);
  const child = spawn('node', [CLI, 'demo', '--soak', '30', '--rows', '100'], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let left: number[] = [];
  try {
    // both servers running, the demo setting up its databases on them
    for (let i = 0; i < 600 && processesUnder(tmp, true).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(processesUnder(tmp, true).length).toBeGreaterThanOrEqual(2);
    child.kill('SIGTERM');
    expect(await exited).toBe(1);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    // whatever the outcome, no server of this test outlives it (SIGINT: PostgreSQL's fast shutdown)
    left = processesUnder(tmp, true);
    for (const pid of left) process.kill(pid, 'SIGINT');
  }
  expect(left).toEqual([]);
  expect(err).toBe('cutover: demo interrupted (SIGTERM); its databases were stopped and removed\n');
  expect(out).toContain('starting two PostgreSQL clusters');
  // (tsx keeps its compile cache there too)
  expect(readdirSync(tmp).filter((f) => f.startsWith('cutover-'))).toEqual([]);
});
