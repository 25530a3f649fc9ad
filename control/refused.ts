// A steering request the control plane refuses: an HTTP status for the API,
// a one-line reason for the CLI, and details (from/to, the failing gate) for JSON.
export class Refused extends Error {
  constructor(message: string, readonly status: 400 | 409 | 501 | 503 = 409, readonly details: Record<string, unknown> = {}) {
    super(message);
  }
}
