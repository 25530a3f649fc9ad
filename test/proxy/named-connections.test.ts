// The proxy's own background connections (catalog readers, the target health
// check, the read-session probe, the drainer) say which database they could not
// reach, as the commands' connections do (common/pg-config.ts's pgClient): a
// log line "connect ECONNREFUSED 127.0.0.1:5433" did not tell an operator whose
// two databases share a host which one was down. Never the user or password.
import { Writable } from 'node:stream';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { LiveState } from '../../common/live-state.ts';
import { catalogRows } from '../../common/pg-config.ts';
import { nameDatabases } from '../../common/urls.ts';
import type { ChangeApplier } from '../../proxy/mirror/apply.ts';
import { Drainer } from '../../proxy/mirror/drainer.ts';
import { LargeRowReader } from '../../proxy/mirror/large-rows.ts';
import { ProxyStats } from '../../proxy/stats.ts';
import { startTargetHealthCheck } from '../../proxy/target-health.ts';
import { TargetSessions } from '../../proxy/target-sessions.ts';
import { freePort } from '../harness/postgres.ts';

const SECRET = 'Bg-Secret-4471';
let source: string;
let target: string;
let sourcePlace: string;
let targetPlace: string;

beforeAll(async () => {
  const down = await freePort();
  source = `postgres://drainer_role:${SECRET}@127.0.0.1:${down}/legacy_named`;
  target = `postgres://mirror_role:${SECRET}@127.0.0.1:${down}/new_named`;
  sourcePlace = `source (legacy) database 127.0.0.1:${down}/legacy_named`;
  targetPlace = `target (new) database 127.0.0.1:${down}/new_named`;
  nameDatabases({ source, target });
});

/** A debug-level logger and the lines it wrote. */
function capture() {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write: (c, _e, cb) => (lines.push(c.toString()), cb()) }));
  const waitFor = async (msg: string): Promise<{ reason: string }> => {
    for (;;) {
      const hit = lines.map((l) => JSON.parse(l) as { msg: string; reason: string }).find((l) => l.msg.includes(msg));
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { lines, log, waitFor };
}

const noApplier: ChangeApplier = { apply: async () => undefined, probe: async () => undefined, close: async () => undefined };

describe('background connections name their database', () => {
  it('a catalog read names the database it could not reach', async () => {
    const e = await catalogRows(source, 'SELECT 1').catch((x: Error) => x);
    expect((e as Error).message).toBe(`cannot connect to the ${sourcePlace}: connect ECONNREFUSED ${new URL(source).host}`);
  });

  it("the drainer's failed drain names the source, its large-row reader too", async () => {
    const drainer = new Drainer(source, noApplier, new LiveState(), pino({ level: 'silent' }));
    try {
      const e = await drainer.drainOnce().catch((x: Error) => x);
      expect((e as Error).message).toBe(`cannot connect to the ${sourcePlace}: connect ECONNREFUSED ${new URL(source).host}`);
    } finally {
      await drainer.stop();
    }
    const large = await new LargeRowReader(source, 100).read('t', 't', 'to_json(t)', ['(0,1)']).catch((x: Error) => x);
    expect((large as Error).message).toMatch(new RegExp(`^cannot connect to the ${sourcePlace.replace(/[()]/g, '\\$&')}: `));
    expect((large as Error).message).not.toContain(SECRET);
  });

  it('the target health check and the read-session probe log which database is down', async () => {
    const health = capture();
    const check = startTargetHealthCheck(target, new ProxyStats(), health.log);
    const unavailable = await health.waitFor('target database unavailable');
    check.stop();
    expect(unavailable.reason).toBe(`cannot connect to the ${targetPlace}: connect ECONNREFUSED ${new URL(target).host}`);

    const probe = capture();
    const sessions = new TargetSessions(undefined, { new: target }, 1, probe.log);
    const notYet = await probe.waitFor("cannot read the database's max_connections yet");
    sessions.stop();
    expect(notYet.reason).toBe(`cannot connect to the ${targetPlace}: connect ECONNREFUSED ${new URL(target).host}`);
    expect(health.lines.join('') + probe.lines.join('')).not.toContain(SECRET);
    expect(health.lines.join('') + probe.lines.join('')).not.toContain('mirror_role');
  });
});
