// Registers this area's `cutover` subcommands.
import type { Command } from 'commander';

export function registerControlCommands(_program: Command): void {
  // filled in by the control work
}
