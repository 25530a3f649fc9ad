// Load on the demo app for the whole run, with results split by migration
// phase: autocannon drives sign-up → log-in → profile → document per
// connection; responses are tallied into whichever phase is current.
import autocannon from 'autocannon';

export interface PhaseStats {
  phase: string;
  requests: number;
  non2xx: number;
  errors: number;
  latencies: number[];
}

export interface LoadRun {
  /** Start counting responses under a new phase name. */
  setPhase(name: string): void;
  stop(): Promise<PhaseStats[]>;
}

export function p99(latencies: number[]): number {
  if (latencies.length === 0) return 0;
  const sorted = [...latencies].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!;
}

interface Ctx { email?: string; accountId?: number }

export function startLoad(appUrl: string, connections = 8): LoadRun {
  const phases: PhaseStats[] = [];
  let current: PhaseStats = { phase: 'start', requests: 0, non2xx: 0, errors: 0, latencies: [] };
  phases.push(current);
  let seq = 0;
  const runId = Date.now().toString(36);

  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => { finished = resolve; });
  const instance = autocannon({
    url: appUrl,
    connections,
    duration: 3600, // stopped explicitly when the story is over
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: '/signup',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req, context) => {
          const ctx = context as Ctx;
          ctx.email = `user${runId}-${++seq}@example.com`;
          return { ...req, body: JSON.stringify({ email: ctx.email, password: 'correct horse', name: `User ${seq}` }) };
        },
        onResponse: (status, body, context) => {
          if (status === 201) (context as Ctx).accountId = JSON.parse(body).id;
        },
      },
      {
        method: 'POST',
        path: '/login',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req, context) => {
          const ctx = context as Ctx;
          if (!ctx.accountId) return undefined as never; // sign-up failed: restart the sequence
          return { ...req, body: JSON.stringify({ email: ctx.email, password: 'correct horse' }) };
        },
      },
      {
        method: 'GET',
        setupRequest: (req, context) => ({ ...req, path: `/profile/${(context as Ctx).accountId}` }),
      },
      {
        method: 'POST',
        path: '/documents',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req, context) => ({
          ...req,
          body: JSON.stringify({ accountId: (context as Ctx).accountId, title: 'Brief', body: 'x'.repeat(200) }),
        }),
      },
    ],
  }, () => finished());
  // the tracker passes the client first, whatever the typings say
  (instance as unknown as NodeJS.EventEmitter).on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    current.requests++;
    if (statusCode < 200 || statusCode > 299) current.non2xx++;
    current.latencies.push(responseTime);
  });
  instance.on('reqError', () => {
    current.errors++;
  });

  return {
    setPhase(name: string) {
      current = { phase: name, requests: 0, non2xx: 0, errors: 0, latencies: [] };
      phases.push(current);
    },
    async stop() {
      instance.stop();
      await done;
      return phases.filter((p) => p.requests > 0 || p.errors > 0);
    },
  };
}
