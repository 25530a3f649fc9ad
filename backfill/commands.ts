// `cutover backfill` and `cutover verify` for a PostgreSQL source. The SQLite
// source, schema conversion, checkpoints/resume, COPY loading, row-level diffs
// and repair are still to come (issue 4).
import type { Command } from 'commander';
import { requireKey } from '../common/config.ts';
import { CliError } from '../common/errors.ts';
import { parseDbUrl } from '../common/urls.ts';
import { action } from '../control/cli-support.ts';
import { copyHistory } from './copy-pg.ts';
import { compareDatabases, type TableDiff } from './table-hash.ts';
import pg from 'pg';
import { pgClientConfig } from '../common/pg-config.ts';
import { listTables } from '../proxy/capture/pg-capture.ts';

function postgresOnly(url: string, what: string): string {
  if (parseDbUrl(url, what).kind !== 'postgres') throw new CliError(`${what}: only PostgreSQL is supported by this command so far`);
  return url;
}

async function tablesOf(url: string, only?: string[]): Promise<string[]> {
  const c = new pg.Client(pgClientConfig(url));
  await c.connect();
  try {
    const all = await listTables(c);
    const keyless = all.filter((t) => !t.hasKey);
    if (keyless.length) throw new CliError(`tables without a primary key cannot be compared: ${keyless.map((t) => `${t.schema}.${t.name}`).join(', ')}`);
    return all.filter((t) => !only?.length || only.includes(t.name) || only.includes(`${t.schema}.${t.name}`)).map((t) => `${t.schema}.${t.name}`);
  } finally {
    await c.end();
  }
}

/** Every table compared on both sides; a table that differs is compared again (writes may be in flight) before it counts. */
export async function verifyDatabases(source: string, target: string, only?: string[]): Promise<TableDiff[]> {
  const tables = await tablesOf(source, only);
  let diffs = await compareDatabases(source, target, tables);
  for (let attempt = 0; attempt < 3 && diffs.some((d) => !d.equal); attempt++) {
    await new Promise((r) => setTimeout(r, 500));
    const again = await compareDatabases(source, target, diffs.filter((d) => !d.equal).map((d) => d.table));
    diffs = diffs.map((d) => again.find((a) => a.table === d.table) ?? d);
  }
  return diffs;
}

export function registerBackfillCommands(program: Command): void {
  program
    .command('backfill')
    .description('copy history to the target in key order (PostgreSQL source), race-safe with the mirror')
    .option('--tables <list>', 'only these tables (comma-separated)')
    .option('--batch-size <n>', 'rows per batch (default 10000)')
    .action(action(async ({ cfg, print }) => {
      const source = postgresOnly(requireKey(cfg, 'source'), 'source');
      const target = postgresOnly(requireKey(cfg, 'target'), 'target');
      const started = Date.now();
      const counts = await copyHistory(source, target, {
        batchSize: cfg.batchSize,
        tables: cfg.tables,
        onProgress: (p) => {
          if (cfg.json) process.stdout.write(JSON.stringify({ progress: p }) + '\n');
          else if (process.stderr.isTTY) process.stderr.write(`\r${p.table}: ${p.rows} rows${p.done ? ' done\n' : ''}`);
        },
      });
      const seconds = (Date.now() - started) / 1000;
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      const lines = Object.entries(counts).map(([t, n]) => `  ${t.padEnd(40)} ${n} rows`);
      print([`backfill copied ${total} rows in ${seconds.toFixed(1)} s`, ...lines].join('\n'), { ok: true, rows: counts, seconds });
    }));
  program
    .command('verify')
    .description('compare every table on both sides (ordered dump, hashed); exit 1 on a difference')
    .option('--tables <list>', 'only these tables (comma-separated)')
    .action(action(async ({ cfg, print }) => {
      const source = postgresOnly(requireKey(cfg, 'source'), 'source');
      const target = postgresOnly(requireKey(cfg, 'target'), 'target');
      const diffs = await verifyDatabases(source, target, cfg.tables);
      const different = diffs.filter((d) => !d.equal);
      const lines = diffs.map((d) => `  ${d.equal ? 'equal     ' : 'DIFFERENT '} ${d.table} (${d.rows[0]} rows on the source, ${d.rows[1]} on the target)`);
      print([different.length ? `verify: ${different.length} table(s) differ` : `verify: all ${diffs.length} table(s) equal`, ...lines].join('\n'), { equal: different.length === 0, tables: diffs });
      return different.length ? 1 : 0;
    }));
}
