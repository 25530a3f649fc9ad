// For writer loops that run until a test says stop: what to do after a failed write.
/**
 * False once the connection is gone (an error with no SQLSTATE: the client
 * closed): the loop must stop, since a closed client rejects at once and the
 * loop would spin on microtasks, starve the event loop, and the test would
 * hang instead of failing. Otherwise true, after a macrotask.
 */
export async function goOnAfter(e: unknown): Promise<boolean> {
  if (!(e as { code?: string }).code) return false;
  await new Promise((r) => setTimeout(r, 1));
  return true;
}
