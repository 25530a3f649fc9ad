// Where one request goes. Pure: the relay supplies what it knows about the
// request and the session, the live state supplies the operator's intent.
import type { LiveState } from '../common/live-state.ts';
import type { Kind } from './classify/classify.ts';

export type Route = 'source' | 'target';
export type SessionRoute = 'auto' | 'source' | 'target';

export interface RouteInput {
  kind: Kind;
  pinned: Route | null;
  session: SessionRoute;
  inTransaction: boolean;
  /** The target connection is there to use (or may be opened). */
  targetAvailable: boolean;
  /** Reads the server's catalogs or statistics (classify.ts): the source's, unless a pin says otherwise. */
  system?: boolean;
}

/**
 * Only plain reads outside a transaction may leave the source of truth, and
 * only while the target is current (not tripped). Pins choose within that.
 */
export function route(input: RouteInput, live: LiveState, rand: () => number = Math.random): Route {
  if (input.kind !== 'read' || input.inTransaction || !input.targetAvailable) return 'source';
  const snap = live.get();
  if (snap.tripped || !snap.mirroring) return 'source';
  if (input.pinned) return input.pinned;
  if (input.session !== 'auto') return input.session;
  if (input.system) return 'source';
  const p = live.effectiveReadPercent;
  if (p <= 0) return 'source';
  if (p >= 100) return 'target';
  return rand() * 100 < p ? 'target' : 'source';
}

/**
 * Errors the source might not have given: the read is retried there. A
 * statement timeout (57014) is the session's own, as on the source: the
 * client gets it as it is.
 */
export function isTargetFault(sqlstate: string | undefined): boolean {
  if (!sqlstate) return true;
  if (sqlstate === '57014') return false;
  const cls = sqlstate.slice(0, 2);
  return cls === '08' || cls === '53' || cls === '57' || cls === '58' || cls === 'XX' || cls === '3D' || cls === '28' || isMissingObject(sqlstate);
}

/**
 * An object the statement names is missing: the target's fault only if the
 * source has it. The application's own mistakes (a misspelt column) fail the
 * same way there, and must not count against the target's health.
 */
export function isMissingObject(sqlstate: string): boolean {
  return sqlstate === '42P01' || sqlstate === '42883' || sqlstate === '42703' || sqlstate === '42704' || sqlstate === '3F000' || sqlstate === '26000';
}

/**
 * The client's messages break the protocol where the statement meets them (08P01: a Bind with more parameter
 * formats than values, or values the statement does not take): the source raises the same for the same bytes.
 * Retried there like a missing object, and counted against the target only if the source answers otherwise.
 */
export function isProtocolMisuse(sqlstate: string): boolean {
  return sqlstate === '08P01';
}
