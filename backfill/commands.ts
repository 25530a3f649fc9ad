// Registers this area's `cutover` subcommands.
import type { Command } from 'commander';

export function registerBackfillCommands(_program: Command): void {
  // filled in by the backfill work
}
