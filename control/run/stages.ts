// The stages `cutover run` walks, in order, each one function that enters its
// phase's work and returns a one-line outcome (or throws the reason to stop):
// check → backup → capture → backfill → verify → steps → promote.
import { missingMessage, missingOnTarget } from '../../backfill/schema/missing-on-target.ts';
import type { Config } from '../../common/config.ts';
import { requireKey } from '../../common/config.ts';
import type { Phase } from '../../common/live-state.ts';
import { CliError } from '../../common/errors.ts';
import { pgClient } from '../../common/pg-config.ts';
import { parseDbUrl } from '../../common/urls.ts';
import { installCapture } from '../../proxy/capture/pg-capture.ts';
import { installSqliteCaptureIn } from '../../proxy/promote/sqlite-steps.ts';
import { runBackfill } from '../../backfill/copy/run-backfill.ts';
import { runVerify } from '../../backfill/verify/run-verify.ts';
import { runCheck } from '../../backfill/check/run-check.ts';
import { takeBackup } from '../../backfill/backup.ts';
import { ApiError } from '../client.ts';
import { notComparedLine, verifyOutcome } from '../record-verify.ts';
import { notCompared, replicatedTables } from '../verify-scope.ts';
import type { AuditEntry } from '../state/store.ts';
import { pluggedStages } from './plugins.ts';

export type Doc = Record<string, unknown>;

export interface RunContext {
  cfg: Config;
  /** The control API of the proxy at --control. */
  api(method: string, path: string, body?: unknown): Promise<Doc>;
  /** A progress line (human or JSON). */
  say(line: string, data?: Doc): void;
  soakSeconds: number;
}

export type StageFn = (ctx: RunContext) => Promise<string>;

export type StageName = 'check' | 'backup' | 'capture' | 'backfill' | 'verify' | 'steps' | 'promote';

export interface Stage {
  name: StageName;
  /** The phase the migration is in while this stage works. */
  phase: Phase;
  what: string;
  /** Undefined: not available in this build. */
  run: StageFn | undefined;
}

/** Capture on the source: triggers in the SQLite file (under the engine's write lock), or the PostgreSQL capture schema. */
async function installSourceCapture(source: string, tables?: string[]): Promise<number> {
  const u = parseDbUrl(source, 'source');
  if (u.kind === 'sqlite') return installSqliteCaptureIn(u.path, tables);
  const c = pgClient(source);
  await c.connect();
  try {
    return (await installCapture(c, tables)).length;
  } finally {
    await c.end();
  }
}

const capture: StageFn = async ({ cfg, api, say }) => {
  const missing = await missingOnTarget(requireKey(cfg, 'source'), requireKey(cfg, 'target'), cfg.tables);
  if (missing.length) throw new CliError(missingMessage(missing));
  const tables = await installSourceCapture(requireKey(cfg, 'source'), cfg.tables);
  // backfill must not start before every proxy mirrors: the drainer notices capture within 200 ms
  for (let i = 0; i < 50; i++) {
    if ((await api('GET', '/status')).mirroring) return `capture installed on ${tables} table(s); the proxy mirrors every write`;
    if (i === 0) say('  waiting for the proxy to start mirroring…');
    await sleep(200);
  }
  throw new CliError('capture is installed but the proxy has not started mirroring within 10 s');
};

const check: StageFn = async ({ cfg, say }) => {
  const r = await runCheck({ source: requireKey(cfg, 'source'), target: requireKey(cfg, 'target'), tables: cfg.tables, backupDir: cfg.backupDir, reportDir: cfg.reportDir, skipBackup: cfg.skipBackup });
  for (const f of r.findings.filter((x) => x.severity !== 'info')) say(`  ${f.severity}: ${[f.table, f.column].filter(Boolean).join('.')}${f.table ? ': ' : ''}${f.message}`);
  const errors = r.findings.filter((f) => f.severity === 'error').length;
  if (errors) throw new CliError(`check found ${errors} error(s)${r.file ? ` (report ${r.file})` : ''}; fix them and run again`);
  return `pre-flight passed (${r.findings.filter((f) => f.severity === 'warning').length} warning(s))`;
};

const backup: StageFn = async ({ cfg }) => {
  if (cfg.skipBackup) return 'skipped (--skip-backup)';
  const b = await takeBackup(requireKey(cfg, 'source'), cfg.backupDir, cfg.state);
  return `backup ${b.file}, ${b.bytes} bytes, sha256 ${b.sha256}`;
};

const backfill: StageFn = async ({ cfg }) => {
  // a run that stopped mid-copy continues from the checkpoints
  const r = await runBackfill({
    source: requireKey(cfg, 'source'), target: requireKey(cfg, 'target'), state: cfg.state, tables: cfg.tables,
    batchSize: cfg.batchSize, workers: cfg.workers, maxRate: cfg.maxRate, retryAttempts: cfg.retryAttempts, resume: true,
  });
  return `${r.rows} rows copied from ${r.tables.length} table(s) in ${r.seconds.toFixed(1)} s`;
};

/** Compares every table of the migration and records the result on the proxy: the steps stage needs a pass. */
const verify: StageFn = async ({ cfg, api }) => {
  const replicated = await replicatedTables(cfg, cfg.tables);
  const r = await runVerify({ source: requireKey(cfg, 'source'), target: requireKey(cfg, 'target'), tables: cfg.tables, reportDir: cfg.reportDir });
  const left = notCompared(r, replicated);
  const outcome = verifyOutcome(r, left);
  // equal, but tables captured beyond the configured ones were not compared: no pass, and the steps would be refused
  if (!outcome) throw new CliError(`verify: ${notComparedLine(left)}; add them to tables, or remove their capture`);
  await api('POST', '/verify', { ...outcome, reason: `cutover run: verify ${outcome.passed ? 'passed' : 'found differences'}` });
  const different = r.tables.filter((d) => !d.equal);
  if (r.uncompared.length) throw new CliError(`verify: ${r.uncompared.map((u) => `${u.table}: ${u.reason}`).join('; ')} (\`cutover schema --apply\` makes what is missing)`);
  if (different.length) throw new CliError(`verify: ${different.length} table(s) differ: ${different.map((d) => d.table).join(', ')}${r.file ? ` (report ${r.file}; \`cutover verify --repair\` rewrites them)` : ''}`);
  return `all ${r.tables.length} table(s) equal on both sides`;
};

/** Why the proxy rolled back: the newest audit entry that moved the phase to ROLLED_BACK. */
function rollbackReason(s: Doc): string {
  const h = ((s.history as AuditEntry[] | undefined) ?? []).filter((e) => e.what === 'phase' && e.to === 'ROLLED_BACK').pop();
  return h?.reason ?? (s.tripped as string | null) ?? `phase is ${s.phase}`;
}

/** Reads up the plan one step at a time, each held for the soak while the proxy's watcher checks the gates. */
const steps: StageFn = async ({ api, say, soakSeconds }) => {
  let s = await api('GET', '/status');
  const plan = (s.plan as { steps: number[] }).steps;
  const soak = async (percent: number) => {
    const until = Date.now() + soakSeconds * 1000;
    say(`  reads at ${percent} %: soaking ${soakSeconds} s with the gates watched`, { readPercent: percent, soakSeconds });
    while (Date.now() < until) {
      await sleep(Math.min(200, Math.max(0, until - Date.now())));
      s = await api('GET', '/status');
      if (s.phase !== 'SHIFTING' || s.readPercent !== percent) throw new CliError(`rolled back at ${percent} %: ${rollbackReason(s)}`);
    }
  };
  // resuming mid-plan: the current step soaks again before the next
  if (s.phase === 'SHIFTING' && Number(s.readPercent) > 0) await soak(Number(s.readPercent));
  for (;;) {
    const next = (s.plan as { next: number | null }).next;
    if (next === null || (s.phase === 'SHIFTING' && Number(s.readPercent) >= plan[plan.length - 1]!)) break;
    try {
      s = await api('POST', '/step');
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) throw new CliError(`step to ${next} % refused: ${String(e.body.error)}`);
      throw e;
    }
    await soak(Number(s.readPercent));
  }
  return `reads at ${s.readPercent} % (plan ${plan.join(', ')}) with every gate holding`;
};

/** Pause, drain, flip, resume on the proxy (control/promote/swap.ts); refused or abandoned with the reason. */
const promote: StageFn = async ({ api }) => {
  try {
    const s = await api('POST', '/promote');
    const r = s.promote as { pausedMs: number; sequencesAligned: number; captureTables: number } | undefined;
    return `promoted: the ${String(s.sourceOfTruth)} database is the source of truth${r ? ` (new transactions paused ${r.pausedMs} ms; ${r.sequencesAligned} sequence(s) aligned; capture on ${r.captureTables} table(s))` : ''}`;
  } catch (e) {
    if (e instanceof ApiError && e.status === 501) throw new NotAvailable('promote');
    if (e instanceof ApiError) throw new CliError(`promote refused: ${String(e.body.error ?? e.message)}`);
    throw e;
  }
};

export class NotAvailable extends CliError {
  constructor(readonly stage: StageName) {
    super(`stage ${stage} is not available in this build (skip it with --skip ${stage})`);
  }
}

export function stages(): Stage[] {
  return [
    { name: 'check', phase: 'PREFLIGHT', what: 'pre-flight checks', run: pluggedStages.check ?? check },
    { name: 'backup', phase: 'BACKUP', what: 'backup of the source', run: pluggedStages.backup ?? backup },
    { name: 'capture', phase: 'CAPTURE', what: 'change capture on the source; dual write', run: capture },
    { name: 'backfill', phase: 'BACKFILL', what: 'history copied to the new database', run: backfill },
    { name: 'verify', phase: 'VERIFY', what: 'both databases compared', run: verify },
    { name: 'steps', phase: 'SHIFTING', what: 'reads stepped through the plan, gates held through each soak', run: steps },
    { name: 'promote', phase: 'PROMOTED', what: 'the new database becomes the source of truth', run: promote },
  ];
}

/**
 * Where a run starts, from the current phase: the stage of that phase runs again (stages are idempotent).
 * From ROLLED_BACK the steps need a passing verify: without one (the copy started over, or a verify
 * failed) the verify stage runs first.
 */
export function startIndex(all: Stage[], phase: Phase, verified = true): number | string {
  switch (phase) {
    case 'NOT_STARTED': return 0;
    case 'ROLLED_BACK': return all.findIndex((s) => s.name === (verified ? 'steps' : 'verify'));
    case 'PROMOTED': return 'the migration is PROMOTED: nothing left for run (next: cutover finalize)';
    case 'FINALIZED': return 'the migration is FINALIZED: nothing left to do';
    case 'FAILED': return 'the migration is FAILED: look at `cutover status` and start again with `cutover phase NOT_STARTED`';
    default: return all.findIndex((s) => s.phase === phase);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
