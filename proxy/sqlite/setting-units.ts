// Settings with a unit (statement_timeout, work_mem, …) read and shown as
// PostgreSQL reads and shows them: SET statement_timeout = 3000 is SHOWn as
// '3s', '1.5s' as '1500ms', work_mem = 65536 as '64MB'; a value out of range,
// or a unit the setting does not take, is 22023. Drivers and pools compare
// what SHOW gives with what they set (node-postgres's own tests do).
import { PgError } from './errors.ts';

type Kind = 'ms' | 'kB' | '8kB';

const INT_MAX = 2147483647;

/** [unit, lowest, highest] of each such setting a session may change (pg_settings, PostgreSQL 15). */
const UNIT_SETTINGS: Record<string, [Kind, number, number]> = {
  client_connection_check_interval: ['ms', 0, INT_MAX],
  deadlock_timeout: ['ms', 1, INT_MAX],
  idle_in_transaction_session_timeout: ['ms', 0, INT_MAX],
  idle_session_timeout: ['ms', 0, INT_MAX],
  lock_timeout: ['ms', 0, INT_MAX],
  log_min_duration_sample: ['ms', -1, INT_MAX],
  log_min_duration_statement: ['ms', -1, INT_MAX],
  statement_timeout: ['ms', 0, INT_MAX],
  tcp_user_timeout: ['ms', 0, INT_MAX],
  wal_sender_timeout: ['ms', 0, INT_MAX],
  gin_pending_list_limit: ['kB', 64, INT_MAX],
  log_temp_files: ['kB', -1, INT_MAX],
  logical_decoding_work_mem: ['kB', 64, INT_MAX],
  maintenance_work_mem: ['kB', 1024, INT_MAX],
  max_stack_depth: ['kB', 100, INT_MAX],
  temp_file_limit: ['kB', -1, INT_MAX],
  wal_skip_threshold: ['kB', 0, INT_MAX],
  work_mem: ['kB', 64, INT_MAX],
  backend_flush_after: ['8kB', 0, 256],
  effective_cache_size: ['8kB', 1, INT_MAX],
  min_parallel_index_scan_size: ['8kB', 0, 715827882],
  min_parallel_table_scan_size: ['8kB', 0, 715827882],
  temp_buffers: ['8kB', 100, 1073741823],
};

// each unit in its family's smallest (ms; kB), largest first: SHOW picks the largest that divides the value
const TIME_UNITS: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['min', 60_000], ['s', 1000], ['ms', 1], ['us', 0.001]];
const MEMORY_UNITS: [string, number][] = [['TB', 1024 ** 3], ['GB', 1024 ** 2], ['MB', 1024], ['kB', 1], ['B', 1 / 1024]];

const family = (kind: Kind) => (kind === 'ms' ? TIME_UNITS : MEMORY_UNITS);
/** The size of the setting's own unit in its family's: 8kB blocks are 8 kB. */
const baseSize = (kind: Kind) => (kind === '8kB' ? 8 : 1);

const validUnits = (kind: Kind): string => {
  const names = family(kind).map(([u]) => `"${u}"`).reverse();
  return `Valid units for this parameter are ${names.slice(0, -1).join(', ')}, and ${names[names.length - 1]}.`;
};

/** The value in the setting's own unit (a bare number is in it), rounded as PostgreSQL rounds. */
function parse(key: string, kind: Kind, value: string): number {
  const invalid = (hint?: string) => new PgError('22023', `invalid value for parameter "${key}": "${value}"`, undefined, hint);
  const m = /^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  if (!m) throw invalid();
  const n = Number(m[1]);
  let base = n;
  if (m[2]) {
    const unit = family(kind).find(([u]) => u === m[2]);
    if (!unit) throw invalid(validUnits(kind));
    base = (n * unit[1]) / baseSize(kind);
  }
  const rounded = Math.round(base);
  if (!Number.isFinite(rounded) || rounded > INT_MAX || rounded < -INT_MAX - 1) throw invalid('Value exceeds integer range.');
  return rounded;
}

/** The value as SHOW gives it: the largest unit that divides it; 0 and -1 bare. */
function show(kind: Kind, v: number): string {
  if (v <= 0) return String(v);
  const inFamily = v * baseSize(kind);
  for (const [unit, size] of family(kind)) {
    if (size >= 1 && inFamily % size === 0) return `${inFamily / size}${unit}`;
  }
  return String(v);
}

/**
 * `value` for setting `key` as PostgreSQL keeps it (SHOW's form); a setting
 * without a unit comes back as given. 22023 for what PostgreSQL refuses.
 */
export function normaliseSetting(key: string, value: string): string {
  const spec = UNIT_SETTINGS[key];
  if (!spec) return value;
  const [kind, lo, hi] = spec;
  const v = parse(key, kind, value);
  if (v < lo || v > hi) {
    throw new PgError('22023', `${v} ${kind} is outside the valid range for parameter "${key}" (${lo} .. ${hi})`);
  }
  return show(kind, v);
}

/** A duration setting's value ('3s', '1500ms', '0', as normaliseSetting keeps it) in milliseconds. */
export function settingMs(key: string, value: string): number {
  return parse(key, 'ms', value);
}
