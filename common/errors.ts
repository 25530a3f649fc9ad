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
