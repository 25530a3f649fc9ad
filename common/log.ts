// pino: JSON lines by default, readable when stderr is a terminal. Anything
// that might carry a secret is redacted by path, and every string of a line
// (message, fields, an error's message and stack) by redactUrl.
import pino, { type Logger } from 'pino';
import { redactDeep } from './redact.ts';
import { redactUrl } from './urls.ts';

export type { Logger };

const REDACT = ['password', '*.password', 'token', '*.token', 'authorization', '*.authorization', 'headers.authorization'];

/** `destination`: where the lines go instead of stderr (tests read them). */
export function createLogger(level = 'info', name = 'cutover', destination?: pino.DestinationStream): Logger {
  const pretty = process.stderr.isTTY && !process.env.CUTOVER_LOG_JSON;
  return pino(
    {
      name,
      level,
      redact: { paths: REDACT, censor: '***' },
      // a call site that forgot redactUrl (an error logged whole, a reason quoting a connection string) still leaks nothing
      formatters: { log: (o) => redactDeep(o) as Record<string, unknown> },
      serializers: { err: (e: unknown) => redactDeep(e instanceof Error ? pino.stdSerializers.err(e) : e) },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a: unknown) => (typeof a === 'string' ? redactUrl(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    (destination ??
      (pretty
        ? pino.transport({ target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } })
        : pino.destination({ dest: 2, sync: false }))),
  );
}

/** A logger that drops everything, for library use and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
