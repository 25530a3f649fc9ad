// Usage errors are one line and exit 1 (README's exit-code contract): a bare
// `cutover` printed the whole help as its error; `cutover reads -1` was taken
// for an unknown option instead of a read percent out of range.
import { describe, expect, it } from 'vitest';
import { cli } from '../harness/cli.ts';

describe('usage errors', () => {
  it('no command: one usage line pointing to --help, exit 1; --help itself is the full help, exit 0', async () => {
    const bare = await cli([]);
    expect(bare.code).toBe(1);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toBe('cutover: missing command; usage: cutover [options] [command] (see --help)\n');
    const sub = await cli(['capture']);
    expect(sub.code).toBe(1);
    expect(sub.stderr).toBe('cutover: missing command; usage: cutover capture [options] [command] (see --help)\n');
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: cutover [options] [command]');
  });

  it('a negative read percent is refused as a read percent, exit 1', async () => {
    for (const args of [['reads', '-1'], ['reads', '-1', '--json']]) {
      const r = await cli(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('cutover: reads: the read percent must be a whole number from 0 to 100, got "-1"\n');
    }
    // an option that does not exist is still called one
    expect((await cli(['reads', '-x'])).stderr).toBe("cutover: unknown option '-x' (see --help)\n");
  });

  it('with --json a usage error answers {ok:false,error} on stdout as every other error does, and its one line on stderr', async () => {
    const missing = await cli(['reads', '--json']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toEqual({ ok: false, error: "missing required argument 'percent' (see --help)" });
    expect(missing.stderr).toBe("cutover: missing required argument 'percent' (see --help)\n");
    const unknown = await cli(['status', '--json', '--bogus']);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toEqual({ ok: false, error: "unknown option '--bogus' (see --help)" });
    const plain = await cli(['reads']);
    expect(plain.stdout).toBe('');
  });
});
