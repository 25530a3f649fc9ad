// Registers this area's `cutover` subcommands.
import type { Command } from 'commander';

export function registerProxyCommands(_program: Command): void {
  // filled in by the proxy work
}
