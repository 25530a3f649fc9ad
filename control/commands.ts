// Steering a running proxy through its control API: status, reads, rollback.
import type { Command } from 'commander';
import { CliError } from '../common/errors.ts';
import { action } from './cli-support.ts';

async function call(control: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(`http://${control}${path}`, {
      method,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(5_000),
    });
  } catch (e) {
    throw new CliError(`no proxy answers at --control ${control} (${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message})`);
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new CliError(`control API ${method} ${path}: ${res.status} ${String(json.error ?? res.statusText)}`);
  return json;
}

function human(s: Record<string, unknown>): string {
  const target = s.target as Record<string, unknown> | null;
  const proxy = s.proxy as Record<string, unknown>;
  const lines = [
    `phase           ${s.phase}`,
    `reads to new   ${s.effectiveReadPercent} %${s.tripped ? ` (set ${s.readPercent} %, tripped: ${s.tripped})` : ''}`,
    `mirroring      ${s.mirroring ? 'on' : 'off'}; source of truth: ${s.sourceOfTruth}`,
    `sessions       ${proxy.sessionsOpen} open, ${proxy.sessionsOpened} since start; source ${proxy.sourceAvailable ? 'reachable' : 'UNREACHABLE'}`,
  ];
  if (target) lines.push(`target         ${target.reads} reads, ${target.readErrors} read errors, ${target.applies} mirrored transactions, ${target.applyErrors} apply errors, ${target.dirtyKeys} dirty keys, drain backlog ${target.drainBacklog}, breaker ${target.breakerOpen ? 'OPEN' : 'closed'}`);
  const history = (s.history as { at: string; actor: string; what: string; from: string | null; to: string | null; reason: string }[] | undefined) ?? [];
  if (history.length) {
    lines.push('history');
    for (const h of history.slice(-5)) lines.push(`  ${h.at}  ${h.what} ${h.from ?? '∅'} → ${h.to ?? '∅'}  (${h.actor}${h.reason ? `: ${h.reason}` : ''})`);
  }
  return lines.join('\n');
}

export function registerControlCommands(program: Command): void {
  program
    .command('status')
    .description('phase, read percent, trips, mirror and proxy counters of the proxy at --control')
    .option('--detailed', 'everything the API reports')
    .action(action(async ({ cfg, opts, print }) => {
      const s = await call(cfg.control, cfg.token, 'GET', '/status');
      print(opts.detailed ? JSON.stringify(s, null, 2) : human(s), s);
      return s.tripped ? 2 : 0;
    }));
  program
    .command('reads <percent>')
    .description('set the share of reads sent to the new database (0..100); also resumes after a trip')
    .action(action(async ({ cfg, print }, percent) => {
      const n = Number(percent);
      if (!Number.isInteger(n) || n < 0 || n > 100) throw new CliError(`reads: expected a whole number from 0 to 100, got "${percent}"`);
      const s = await call(cfg.control, cfg.token, 'PUT', '/reads', { percent: n });
      print(`reads to the new database: ${s.effectiveReadPercent} %`, s);
    }));
  program
    .command('rollback')
    .description('send every read back to the source of truth')
    .option('--reason <text>', 'recorded with the rollback')
    .action(action(async ({ cfg, opts, print }) => {
      const s = await call(cfg.control, cfg.token, 'POST', '/rollback', { reason: opts.reason as string | undefined });
      print(`reads to the new database: ${s.effectiveReadPercent} %`, s);
    }));
}
