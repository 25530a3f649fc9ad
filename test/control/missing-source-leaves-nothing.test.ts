// A command refused for a missing --source writes nothing: `cutover proxy`
// opened (and created) its state store first, leaving .cutover/state.db and a
// proxy claim behind; backup, check, verify and capture install made their
// output directories before finding out they had nothing to work on.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { CLI } from '../harness/cli.ts';

const run = promisify(execFile);

it('a command without --source: one line, exit 1, and nothing created in the working directory', async () => {
  for (const cmd of [['proxy'], ['backup'], ['check'], ['verify'], ['capture', 'install']]) {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'cutover-nosource-'));
    // CUTOVER_SOURCE from the environment would defeat the test
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CUTOVER_')));
    const r = await run('node', [CLI, ...cmd, '--control', '127.0.0.1:1'], { cwd, env, timeout: 30_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code, cmd.join(' ')).toBe(1);
    expect(r.stderr, cmd.join(' ')).toBe('cutover: missing --source (or CUTOVER_SOURCE, or "source" in --config)\n');
    expect(readdirSync(cwd, { recursive: true }), cmd.join(' ')).toEqual([]);
  }
});
