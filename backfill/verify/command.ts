// `cutover verify` — placeholder wiring replaced below.
import type { Command } from 'commander';
import pg from 'pg';
import { requireKey } from '../../common/config.ts';
import { CliError } from '../../common/errors.ts';
import { pgClientConfig } from '../../common/pg-config.ts';
import { parseDbUrl } from '../../common/urls.ts';
import { action } from '../../control/cli-support.ts';
import { listTables } from '../../proxy/capture/pg-capture.ts';
import { compareDatabases } from '../table-hash.ts';

function postgresOnly(url: string, what: string): string {
  if (parseDbUrl(url, what).kind !== 'postgres') throw new CliError(`${what}: only PostgreSQL is supported by this command so far`);
  return url;
}

async function tablesOf(url: string, only?: string[]): Promise<string[]> {
  const c = new pg.Client(pgClientConfig(url));
  await c.connect();
  try {
    const all = await listTables(c);
    return all.filter((t) => !only?.length || only.includes(t.name) || only.includes(`${t.schema}.${t.name}`)).map((t) => `${t.schema}.${t.name}`);
  } finally {
    await c.end();
  }
}

export function registerVerifyCommand(program: Command): void {
  program
    .command('verify')
    .description('compare every table on both sides; exit 1 on a difference')
    .option('--tables <list>', 'only these tables (comma-separated)')
    .action(action(async ({ cfg, print }) => {
      const source = postgresOnly(requireKey(cfg, 'source'), 'source');
      const target = postgresOnly(requireKey(cfg, 'target'), 'target');
      const tables = await tablesOf(source, cfg.tables);
      const diffs = await compareDatabases(source, target, tables);
      const different = diffs.filter((d) => !d.equal);
      print(different.length ? `verify: ${different.length} table(s) differ` : `verify: all ${diffs.length} table(s) equal`, { equal: !different.length });
      return different.length ? 1 : 0;
    }));
}
