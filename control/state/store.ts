// The state store behind one small interface: what is persisted (phase, read
// percent, plan position, trip reason, source of truth), the audit log, and a
// change feed. Two implementations: an SQLite file (one proxy) and Redis (a
// fleet). Every change is a read-modify-write applied atomically against the
// version it was computed from, so two proxies never overwrite each other.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../common/config.ts';
import { redactUrl } from '../../common/urls.ts';
import type { LiveSnapshot, Phase, Side } from '../../common/live-state.ts';

export interface ControlRecord {
  phase: Phase;
  readPercent: number;
  planStep: number;
  tripped: string | null;
  sourceOfTruth: Side;
  /** New transactions wait on every proxy (promote and rollback after promote swap the roles meanwhile). */
  paused: boolean;
  /** When a verify of every replicated table last passed; null: reads may not start (control/verify-gate.ts). */
  verifiedAt: string | null;
  /** The last verify result, or why it stopped counting. */
  verifyResult: string | null;
  /** Increases by one with every change; a proxy applies only newer records. */
  version: number;
}

export interface AuditEntry {
  at: string;
  actor: string;
  what: string;
  from: string | null;
  to: string | null;
  reason: string;
}

/** Computes the change from the current record; null means nothing to do. Throws to refuse. */
export type Mutation = (current: ControlRecord) => Partial<Omit<ControlRecord, 'version'>> | null;

export interface Changed {
  before: ControlRecord;
  after: ControlRecord;
  /** False when the mutation had nothing to do. */
  changed: boolean;
}

export interface StateStore {
  readonly kind: 'sqlite' | 'redis';
  /** Where it is, safe to print (no password). */
  readonly where: string;
  load(): Promise<ControlRecord>;
  change(mutate: Mutation, actor: string, reason: string): Promise<Changed>;
  history(limit?: number): Promise<AuditEntry[]>;
  /** Changes made by other processes, as soon as the store can tell (Redis pub/sub); returns an unsubscribe. */
  subscribe(listener: (record: ControlRecord) => void): () => void;
  /** Connection up/down, for stores that have one. */
  onHealth(listener: (up: boolean, reason: string) => void): void;
  /** Fleet stores: publish this proxy's metrics (prom-client JSON) and read every live proxy's. */
  shareMetrics?(proxyId: string, metricsJson: string): Promise<void>;
  fleetMetrics?(): Promise<string[]>;
  close(): Promise<void>;
}

export const PERSISTED = ['phase', 'readPercent', 'planStep', 'tripped', 'sourceOfTruth', 'paused', 'verifiedAt', 'verifyResult'] as const;

export function initialRecord(readPercent = 0): ControlRecord {
  return { phase: 'NOT_STARTED', readPercent, planStep: -1, tripped: null, sourceOfTruth: 'legacy', paused: false, verifiedAt: null, verifyResult: null, version: 0 };
}

/** The record a mutation produces, and one audit row per field that changed. */
export function applyMutation(current: ControlRecord, mutate: Mutation, actor: string, reason: string): { after: ControlRecord; audit: AuditEntry[] } | null {
  const patch = mutate(current);
  if (!patch) return null;
  const after: ControlRecord = { ...current, ...patch, version: current.version + 1 };
  const at = new Date().toISOString();
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v));
  // an operator's reason quoting a connection string is kept, and shown by every reader of the store, masked
  const why = redactUrl(reason);
  const audit = PERSISTED.filter((k) => current[k] !== after[k]).map((k) => ({ at, actor, what: k, from: text(current[k]), to: text(after[k]), reason: why }));
  if (!audit.length) return null;
  return { after, audit };
}

export function recordOf(s: LiveSnapshot, version: number): ControlRecord {
  return { phase: s.phase, readPercent: s.readPercent, planStep: s.planStep, tripped: s.tripped, sourceOfTruth: s.sourceOfTruth, paused: s.paused, verifiedAt: s.verifiedAt, verifyResult: s.verifyResult, version };
}

export function isRedisUrl(state: string): boolean {
  return /^rediss?:\/\//.test(state);
}

export class NoStateStore extends Error {}

/**
 * The store `--state` names: a redis:// URL, else an SQLite file path.
 * `existing`: an SQLite file that is not there is refused, not created (a CLI
 * reading a typo'd path would show a fresh NOT_STARTED migration).
 */
export async function openStateStore(state: string, opts: { initialReads?: number; existing?: boolean } = {}): Promise<StateStore> {
  if (opts.existing && !isRedisUrl(state) && !existsSync(state)) throw new NoStateStore(`no state store at ${path.resolve(state)}`);
  if (isRedisUrl(state)) {
    // a database that is no number made ioredis throw later, uncaught, with its stack
    let db: string;
    try {
      db = new URL(state).pathname.replace(/^\//, '');
    } catch {
      throw new ConfigError(`state: not a Redis URL: ${redactUrl(state)}`);
    }
    if (db !== '' && !/^\d{1,5}$/.test(db)) throw new ConfigError(`state: the Redis database in ${redactUrl(state)} must be a number, not "${db}"`);
    const { RedisStateStore } = await import('./redis-store.ts');
    const store = await RedisStateStore.open(state, opts.initialReads ?? 0);
    // as a missing file: a Redis database without the migration's record is refused, not read as a fresh migration
    if (opts.existing && store.connected && !(await store.hasRecord())) {
      await store.close();
      throw new NoStateStore(`no migration state in ${redactUrl(state)}`);
    }
    return store;
  }
  const { SqliteStateStore } = await import('./sqlite-store.ts');
  return new SqliteStateStore(state, opts.initialReads ?? 0);
}
