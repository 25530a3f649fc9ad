// What `cutover check` reports: each finding names table, column and keys
// where it has them. Errors block the migration (exit 1); warnings need a
// decision (exit 2); info is for the record.
export interface Finding {
  severity: 'error' | 'warning' | 'info';
  check: string;
  table?: string;
  column?: string;
  /** Some offending keys (text), when rows are at fault. */
  keys?: string[];
  /** How many rows are at fault, when rows are. */
  rows?: number;
  message: string;
}

export const SAMPLE_KEYS = 10;

export function exitCodeOf(findings: Finding[]): 0 | 1 | 2 {
  if (findings.some((f) => f.severity === 'error')) return 1;
  return findings.some((f) => f.severity === 'warning') ? 2 : 0;
}
