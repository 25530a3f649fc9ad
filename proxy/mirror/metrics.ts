// Mirror and routing metrics on prom-client's default registry (`cutover_` names).
import client from 'prom-client';
import { CountedCounter } from '../counted-metrics.ts';

function once<T>(name: string, make: () => T): T {
  return (client.register.getSingleMetric(name) as T | undefined) ?? make();
}

export const mirrorMetrics = {
  applySeconds: once('cutover_mirror_apply_seconds', () => new client.Histogram({
    name: 'cutover_mirror_apply_seconds', help: 'Time to apply one transaction\'s changes to the mirror',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
  })),
  groupSessions: once('cutover_mirror_group_sessions', () => new client.Histogram({
    name: 'cutover_mirror_group_sessions', help: 'Sessions whose changes shared one mirror transaction (group commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64],
  })),
  groupFallbacks: once('cutover_mirror_group_fallbacks_total', () => new client.Counter({ name: 'cutover_mirror_group_fallbacks_total', help: 'Shared mirror transactions that failed and were applied again session by session' })),
  applied: once('cutover_mirror_applied_changes_total', () => new client.Counter({ name: 'cutover_mirror_applied_changes_total', help: 'Row changes applied to the mirror before the source commit' })),
  drainAhead: once('cutover_mirror_drain_ahead_total', () => new client.Counter({ name: 'cutover_mirror_drain_ahead_total', help: 'Mirrored COMMITs whose changes were drained behind their last write (no drain round trip of their own)' })),
  failures: once('cutover_mirror_failures_total', () => new client.Counter({ name: 'cutover_mirror_failures_total', help: 'Mirror applies that failed (keys recorded dirty)' })),
  dirtyKeys: once('cutover_dirty_keys_total', () => new client.Counter({ name: 'cutover_dirty_keys_total', help: 'Keys recorded dirty for re-sync from the source' })),
  refusedKeys: once('cutover_refused_commit_keys_total', () => new client.Counter({ name: 'cutover_refused_commit_keys_total', help: 'Keys of source COMMITs refused after the mirror committed them (serialization failures, deferred constraints), re-synced from the source' })),
  backlog: once('cutover_drain_backlog', () => new client.Gauge({ name: 'cutover_drain_backlog', help: 'Change rows waiting for the drainer (out-of-band writes and dirty keys)', aggregator: 'max' })),
  drained: once('cutover_drained_changes_total', () => new client.Counter({ name: 'cutover_drained_changes_total', help: 'Change rows the drainer re-synced' })),
  drainLockWaits: once('cutover_drain_lock_waits_total', () => new client.Counter({ name: 'cutover_drain_lock_waits_total', help: 'Drains that gave way to a row lock an application held on the source (tried again at the next tick)' })),
  drainKeysDeferred: once('cutover_drain_keys_deferred_total', () => new client.Counter({ name: 'cutover_drain_keys_deferred_total', help: 'Keys the drainer found missing while a writer of new keys held their bucket on the source: put back in the queue, not deleted on the mirror yet' })),
  /** Bumped on every request: inc(backend, kind). */
  queries: CountedCounter.register('cutover_queries_total', 'Client requests by backend and kind', ['backend', 'kind']),
  fallbacks: once('cutover_read_fallbacks_total', () => new client.Counter({ name: 'cutover_read_fallbacks_total', help: 'Routed reads that failed on the target and were retried on the source' })),
  keptOnSource: once('cutover_reads_kept_on_source_total', () => new client.Counter({ name: 'cutover_reads_kept_on_source_total', help: 'Reads due on the target that ran on the source: the proxy was at its targetSessions limit, or the target had no room for another session' })),
  targetErrors: once('cutover_target_errors_total', () => new client.Counter({ name: 'cutover_target_errors_total', help: 'Failures on the target database' })),
  readPercent: once('cutover_read_percent', () => new client.Gauge({ name: 'cutover_read_percent', help: 'Share of eligible reads routed to the target', aggregator: 'max' })),
};
