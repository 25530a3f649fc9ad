// The CLI's side of the control API: one request, errors as one-line reasons.
import { CliError } from '../common/errors.ts';

/** No proxy answered at all (as opposed to one that answered with an error). */
export class NoProxy extends CliError {}

/** Errors of a connection that never reached a server: nothing was asked, nothing done. */
const NOT_DELIVERED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_INVALID_URL']);

/** The request went out and no answer came back (the proxy died, or did not answer in time): it may have taken effect. */
export class ProxyLost extends CliError {
  constructor(control: string, method: string, path: string, cause: string) {
    const swap = ['/promote', '/rollback', '/finalize', '/resume'].includes(path);
    super(
      `the proxy at --control ${control} stopped answering during ${method} ${path} (${cause}); ` +
        (swap
          ? 'it may have stopped half-way with new transactions paused: if cutover status says PAUSED, run cutover resume (roles unchanged)'
          : 'the change may or may not have been made: cutover status says'),
    );
  }
}

export class ApiError extends CliError {
  constructor(message: string, readonly status: number, readonly body: Record<string, unknown>) {
    super(message);
  }
}

export async function callApi(control: string, token: string | undefined, method: string, path: string, body?: unknown, timeoutMs = 5_000): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(`http://${control}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const cause = (e as Error).cause instanceof Error ? ((e as Error).cause as Error) : (e as Error);
    // a request the proxy may have acted on must not look like one that never reached it: callers fall
    // back to the state store on NoProxy, and a promote whose proxy died half-way leaves a pause behind
    const code = (cause as { code?: unknown }).code;
    // no code: fetch refused the address itself (a bad port); a timeout is a DOMException, code 23
    if (method !== 'GET' && code !== undefined && !NOT_DELIVERED.has(String(code))) throw new ProxyLost(control, method, path, cause.message);
    throw new NoProxy(`no proxy answers at --control ${control} (${cause.message})`);
  }
  const json = (await res.json().catch(() => null)) as Record<string, unknown> | null;
  // every answer of the control API, errors included, is a JSON object: anything else is another server
  // (--control given a database's or a web server's port), whose "404 Not Found" alone sent operators looking for a missing endpoint
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ApiError(`control API ${method} ${path}: ${res.status} ${res.statusText}, not an answer of cutover's control API: is --control ${control} the address a proxy's --control serves?`, res.status, {});
  }
  if (!res.ok) throw new ApiError(`control API ${method} ${path}: ${res.status} ${String(json.error ?? res.statusText)}`, res.status, json);
  return json;
}
