// Secrets kept out of structured output: every string in a log line's fields
// and in a control API answer goes through redactUrl, errors included (their
// message and stack quote what a driver was given).
import pino from 'pino';
import { redactUrl } from './urls.ts';

/** `value` with every string in it redacted; errors become their serialized (type, message, stack) form. */
export function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUrl(value);
  // deeper than any log field or answer: a cycle or a structure not worth walking
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return redactDeep({ ...pino.stdSerializers.err(value) }, depth + 1);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, depth + 1)]));
}
