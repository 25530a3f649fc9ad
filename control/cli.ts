// The `cutover` command line. Each area registers its own commands; this file
// only holds the global options and the dispatch.
import { Command, CommanderError, type HelpContext, type ParseOptionsResult } from 'commander';
import { registerProxyCommands } from '../proxy/commands.ts';
import { registerBackfillCommands } from '../backfill/commands.ts';
import { registerControlCommands } from './commands.ts';
import { registerDemoCommand } from './demo/command.ts';

/**
 * Commander's parser with the CLI's own answers to two usage errors; `.command()`
 * builds its subcommands through createCommand, so every command has them.
 */
class CutoverCommand extends Command {
  override createCommand(name?: string): Command {
    return new CutoverCommand(name);
  }

  // a bare `cutover` (or `cutover capture`) printed all 69 lines of help as its error;
  // git answers with the usage line, and any other usage error here is one line too
  override help(context?: HelpContext | ((str: string) => string)): never {
    if (typeof context === 'function') return super.help(context);
    if (context?.error) this.error(`missing command; usage: ${[...this.ancestors(), this.name()].join(' ')} ${this.usage()}`, { exitCode: 1, code: 'cutover.missingCommand' });
    return super.help(context);
  }

  // commander takes any word starting with '-' for an option: `cutover reads -1` is a number out
  // of range, and "unknown option '-1'" sent the operator looking for a flag. A negative number
  // where the command takes an argument is that argument, for the command's own check to refuse.
  override parseOptions(argv: string[]): ParseOptionsResult {
    const parsed = super.parseOptions(argv);
    const first = parsed.unknown[0];
    if (first !== undefined && /^-\d/.test(first) && this.registeredArguments.length) {
      return { operands: [...parsed.operands, first], unknown: parsed.unknown.slice(1) };
    }
    return parsed;
  }

  private ancestors(): string[] {
    const names: string[] = [];
    for (let c = this.parent; c; c = c.parent) names.unshift(c.name());
    return names;
  }
}

/** `json`: --json was given; a usage error then answers on stdout too, as every other error does (cli-support.ts). */
export function buildProgram(json = false): Command {
  const program = new CutoverCommand('cutover')
    .description('Zero-downtime migration from a legacy database to a new PostgreSQL database through a wire-protocol proxy')
    .option('--source <url>', 'legacy database: postgres://user:pass@host:port/db or sqlite:///path.db')
    .option('--target <url>', 'new database: postgres://user:pass@host:port/db')
    .option('--listen <host:port>', 'proxy listen address (default 127.0.0.1:6432)')
    .option('--control <host:port>', 'control API address (default 127.0.0.1:6480)')
    .option('--state <path|redis://…>', 'state store (default .cutover/state.db)')
    .option('--reads <percent>', 'initial share of reads sent to the new database')
    .option('--config <file>', 'JSON configuration file')
    .option('--report-dir <dir>', 'where verify and check write their JSON reports (default .cutover/reports)')
    .option('--backup-dir <dir>', 'where backups go (default .cutover/backups)')
    .option('--token <token>', 'control API bearer token (prefer CUTOVER_TOKEN)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .option('--json', 'machine-readable output')
    // usage errors as every other CLI error: one line, exit 1 (scripts grep stderr); help on request only
    .configureOutput({
      outputError: (str, write) => {
        const msg = `${str.replace(/^error: /, '').trim()} (see --help)`;
        if (json) process.stdout.write(JSON.stringify({ ok: false, error: msg }) + '\n');
        write(`cutover: ${msg}\n`);
      },
    })
    .exitOverride()
    // `cutover reads 5 6` must not quietly drop the 6: inherited by every command
    .allowExcessArguments(false);
  registerProxyCommands(program);
  registerBackfillCommands(program);
  registerControlCommands(program);
  registerDemoCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram(argv.includes('--json'));
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version are successes; usage errors are exit 1 with commander's one-line reason
      process.exitCode = e.exitCode === 0 ? 0 : 1;
      return;
    }
    throw e;
  }
}
