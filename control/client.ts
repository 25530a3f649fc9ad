// The CLI's side of the control API: one request, errors as one-line reasons.
import { CliError } from '../common/errors.ts';

/** No proxy answered at all (as opposed to one that answered with an error). */
export class NoProxy extends CliError {}

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
    const cause = (e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message;
    throw new NoProxy(`no proxy answers at --control ${control} (${cause})`);
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new ApiError(`control API ${method} ${path}: ${res.status} ${String(json.error ?? res.statusText)}`, res.status, json);
  return json;
}
