// pino: JSON lines by default, readable when stderr is a terminal. Anything
// that might carry a secret is redacted by path, and URLs by redactUrl.
import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT = ['password', '*.password', 'token', '*.token', 'authorization', '*.authorization', 'headers.authorization'];

export function createLogger(level = 'info', name = 'cutover'): Logger {
  const pretty = process.stderr.isTTY && !process.env.CUTOVER_LOG_JSON;
  return pino(
    { name, level, redact: { paths: REDACT, censor: '***' } },
    pretty
      ? pino.transport({ target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } })
      : pino.destination({ dest: 2, sync: false }),
  );
}

/** A logger that drops everything, for library use and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
