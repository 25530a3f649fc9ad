// What every command shares: config loading from flags > env > file, output in
// human or JSON form, and the exit-code contract (0 ok, 1 failure, 2 warnings).
import type { Command } from 'commander';
import { loadConfig, ConfigError, type Config } from '../common/config.ts';
import { CliError, describeError } from '../common/errors.ts';
import { endOnInterrupt } from '../common/interrupt.ts';
import { redactDeep } from '../common/redact.ts';
import { redactUrl } from '../common/urls.ts';
import { commandPath, makeOutputDirs } from './output-dirs.ts';

export type ExitCode = 0 | 1 | 2;

export interface Ctx {
  cfg: Config;
  /** Options of this command and the global ones, as given. */
  opts: Record<string, unknown>;
  /**
   * Print a result: JSON with --json, else the human text, masked as errors are. `verbatim`: text that
   * is the database's own and must stay as it is (schema's DDL: a default quoting a URL is part of it).
   */
  print(human: string, json: unknown, opts?: { verbatim?: boolean }): void;
}

/** Wraps a command body: config, output, errors to one line on stderr, exit code. */
export function action(run: (ctx: Ctx, ...args: string[]) => Promise<ExitCode | void>) {
  return async function (this: Command, ...args: unknown[]): Promise<void> {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.optsWithGlobals() as Record<string, unknown>;
    let cfg: Config;
    try {
      cfg = loadConfig(pickConfigKeys(opts));
      makeOutputDirs(cmd, cfg, opts);
    } catch (e) {
      fail(e, Boolean(opts.json));
      return;
    }
    const ctx: Ctx = {
      cfg,
      opts,
      // what a store or report holds from before masking (an audit reason quoting a connection string) is shown masked
      print: (human, json, { verbatim = false } = {}) => {
        const mask = <T>(v: T, redact: (x: T) => unknown) => (verbatim ? v : redact(v));
        const text = cfg.json ? JSON.stringify(mask(json, redactDeep)) + '\n' : String(mask(human.endsWith('\n') ? human : human + '\n', redactUrl));
        process.stdout.write(text);
      },
    };
    const name = commandPath(cmd);
    // the proxy drains its sessions on a signal, the demo removes its databases: each handles its own
    const release = OWN_SIGNALS.has(name) ? () => undefined : endOnInterrupt(name, (e) => fail(e, cfg.json));
    try {
      const positional = args.slice(0, -2).filter((a): a is string => typeof a === 'string');
      const code = await run(ctx, ...positional);
      process.exitCode = code ?? 0;
    } catch (e) {
      fail(e, cfg.json);
    } finally {
      release();
    }
  };
}

const OWN_SIGNALS = new Set(['proxy', 'demo']);

function fail(e: unknown, json: boolean): void {
  const msg = redactUrl(describeError(e)).split('\n')[0]!;
  const code = e instanceof CliError ? e.exitCode : 1;
  if (json) process.stdout.write(JSON.stringify({ ok: false, error: msg }) + '\n');
  process.stderr.write(`cutover: ${msg}\n`);
  process.exitCode = code;
  if (!(e instanceof CliError) && !(e instanceof ConfigError) && process.env.CUTOVER_DEBUG) console.error(e);
}

/** Command-specific flags that are not config keys are left to the command itself. */
const NOT_CONFIG = new Set(['apply', 'resume', 'repair', 'detailed', 'dryRun', 'yes', 'reason', 'legacy', 'rows', 'duration', 'keep', 'skip', 'force']);

function pickConfigKeys(opts: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(opts).filter(([k]) => !NOT_CONFIG.has(k)));
}
