// Ctrl-C (SIGINT) or SIGTERM during a one-shot command: Node's default ended
// the process at once, exit 130 and nothing on stderr, leaving what the
// command was writing half-done (a partial pg_dump file beside no checksum,
// its pg_dump still running). Cleanups registered here run first, then the
// command ends as every failure does: one line, exit 1.
const cleanups = new Set<() => void>();

/** Runs `cleanup` if the command is interrupted before the returned function is called. */
export function onInterrupt(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => void cleanups.delete(cleanup);
}

/**
 * Until the returned function is called, SIGINT and SIGTERM run the cleanups and end the process
 * through `fail` (the command's one-line error), exit 1.
 */
export function endOnInterrupt(what: string, fail: (e: Error) => void): () => void {
  const handler = (signal: NodeJS.Signals) => {
    for (const c of [...cleanups]) {
      try {
        c();
      } catch {
        // the others still run: a file already gone, a child already ended
      }
    }
    fail(new Error(`${what} interrupted (${signal})`));
    process.exit(1);
  };
  return onceSignalled(handler);
}

/** `handler` on the first SIGINT or SIGTERM, until the returned function is called. */
export function onceSignalled(handler: (signal: NodeJS.Signals) => void): () => void {
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
