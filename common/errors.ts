// Errors that end a CLI command with a one-line reason and a chosen exit code.
export class CliError extends Error {
  constructor(message: string, readonly exitCode: 1 | 2 = 1) {
    super(message);
  }
}

/** Error text for operators: message plus the first cause, never a stack. */
export function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: string }).code;
    const base = e.message || e.name;
    return code && !base.includes(code) ? `${base} (${code})` : base;
  }
  return String(e);
}

const named = new WeakSet<object>();

/**
 * Prefixes the error's message with the database it came from ("cannot connect
 * to the source (legacy) database 10.0.0.5:5432/app: ..."): a driver's own
 * "connect ECONNREFUSED" or "unable to open database file" names neither the
 * role nor the place. The error keeps its class and code, which retries and
 * SQLSTATE checks read; named once, however many layers pass it on.
 */
export function nameDatabaseError<E>(e: E, prefix: string): E {
  if (e instanceof Error && !named.has(e)) {
    e.message = `${prefix}: ${e.message}`;
    named.add(e);
  }
  return e;
}

/** Whether nameDatabaseError already said which database the error came from. */
export function namesItsDatabase(e: unknown): boolean {
  return typeof e === 'object' && e !== null && named.has(e);
}
