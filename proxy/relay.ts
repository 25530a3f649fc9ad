// The message-level relay a session uses while mirroring or read routing is
// on (the byte relay in session.ts serves plain passthrough).
//
// Client messages are grouped into requests: a Query, or extended-protocol
// messages up to Sync (or Flush). Each request is classified (cached by
// text), then:
// - a read outside a transaction may go to the target (router.ts); it is held
//   there until complete, and retried on the source if the target failed in a
//   way the source would not have;
// - an autocommit write is wrapped, invisibly: BEGIN, the request, drain of
//   this transaction's change rows, apply to the mirror, COMMIT. The client's
//   CommandComplete and ReadyForQuery are held until the source committed;
// - a client COMMIT is preceded by the same drain-and-apply, also one that
//   shares its Query or Sync segment with other statements: such a request
//   runs in pieces split at its transaction control (txn-split.ts), answered
//   as the server answers the whole; PREPARE TRANSACTION is refused (its
//   commit would come later, past the proxy);
// - everything else goes to the source unchanged.
// Responses reach the client in request order whatever backend answers
// (response-order.ts). Session state follows the session: SET-like statements
// are replayed on the target when it is first used; prepared statements are
// parsed again on whichever backend lacks them, and closed on every backend
// that holds them.
// Promote: at a transaction boundary a new request waits while LiveState is
// paused (pause.ts), then, if the source of truth changed, the session's two
// links swap roles (the other database is opened if it was not yet), with
// nothing in flight on the old one. Clients keep their connection throughout.
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { LiveState, Side } from '../common/live-state.ts';
import type { Logger } from '../common/log.ts';
import { BackendLink, Collect, type ParseFate } from './backend-link.ts';
import { Forward, HoldAll, PieceRun, WriteHold } from './answers.ts';
import { TargetRoleUnavailable } from './backend-pg.ts';
import { classify, type Classification, type Kind, type StatementInfo, type TxnOp } from './classify/classify.ts';
import type { CaptureDialect, DirtyKey } from './capture/dialect.ts';
import { DDL_HINT, DDL_REFUSED, ORDINAL_SETTING } from './capture/pg-capture.ts';
import { isUtf8, jsonAscii } from './mirror/client-encoding.ts';
import { callsLargeObjectWriter, LARGE_OBJECTS_HINT, LARGE_OBJECTS_REFUSED } from './classify/large-objects.ts';
import { BodyReader, FrameError, malformed, MessageAssembler, overlong, queryText, type Message } from './framing.ts';
import { bindMessage, closeMessage, copyFailMessage, errorResponse, EXECUTE, parseErrorFields, parseMessage, queryMessage, readyForQuery } from './messages.ts';
import type { Change } from './mirror/apply.ts';
import { readConnectionSettings } from './read-side-settings.ts';
import { DrainStatements, OWN_STATEMENTS, type DrainCollect } from './mirror/drain-statement.ts';
import { changesOf, DrainAhead, lastWrites } from './mirror/drain-ahead.ts';
import type { TargetGuard } from './mirror/target-guard.ts';
import { mirrorMetrics } from './mirror/metrics.ts';
import { ResponseOrder, type Slot } from './response-order.ts';
import { partsAnswered, SegmentWatch } from './segment-watch.ts';
import { isMissingObject, isProtocolMisuse, isTargetFault, route, type Route, type SessionRoute } from './router.ts';
import { digest, orderOf, recordShadow, sameDigest, type Order } from './shadow.ts';
import { recordRead } from './latency.ts';
import { sendCancel, type CancelTarget } from './cancel.ts';
import { waitWhilePaused } from './pause.ts';
import { namesUserTypes, type OidMap } from './oid-map.ts';
import { extendedPieces, needsSplit, simplePieces, SYNC_PIECE, WRITES, type ExecuteInfo, type Piece } from './txn-split.ts';
import type { ReadLease } from './target-sessions.ts';
import type { Parked } from './parked-reads.ts';
import { HIDDEN_WRITE, READ_ONLY_DEFAULT, READ_WRITE_DEFAULT, touchesReadOnly } from './read-only-target.ts';

const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);
/**
 * Relay.verifySession's question to the source session: temporary relations,
 * a role set, its own settings (those a SET or set_config() made; not the
 * capture triggers' count of change rows, which is the source's alone).
 */
const SESSION_PROBE = queryMessage(`SELECT EXISTS (SELECT FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.pg_my_temp_schema()), pg_catalog.current_setting('role') <> 'none', (SELECT pg_catalog.json_agg(pg_catalog.json_build_array(name, setting)) FROM pg_catalog.pg_settings WHERE source = 'session' AND name <> '${ORDINAL_SETTING}')`);
/** Settings the read connection keeps as the proxy set them (read-only-target.ts), whatever the source session has. */
const READ_ONLY_SETTINGS = new Set(['default_transaction_read_only', 'transaction_read_only']);
/** Messages whose bodies the relay reads: P B D E C H S Q. */
const BODIES_READ = new Set([0x50, 0x42, 0x44, 0x45, 0x43, 0x48, 0x53, 0x51]);
const UNNAMED_CLOSE = closeMessage('S', '');
const FLUSH_MESSAGE: Message = { type: 0x48, bytes: Buffer.from([0x48, 0, 0, 0, 4]) };
/** A BEGIN the relay answers itself and sends with the transaction's first statement. */
const PLAIN_BEGIN = /^\s*(begin|start\s+transaction)\s*;?\s*$/i;
/**
 * How long a plain BEGIN waits for the request it would go out with. Longer
 * than a busy client's turn: at 2 ms, pgbench -N through the mirroring proxy
 * on 2 loaded cores sent most BEGINs alone (an extra exchange with the source
 * per transaction: 958 against 1048 TPS of the held BEGIN's code). A client
 * that waits longer is in its transaction on the source 20 ms late at most.
 */
const BEGIN_HOLD_MS = 20;
const BEGIN_ANSWER = Buffer.concat([Buffer.from([0x43, 0, 0, 0, 10]), Buffer.from('BEGIN\0'), readyForQuery('T')]);
/** A statement the source itself fails with 0A000 and `message`: the error fails the client's block there as it would directly. */
const refusedInBlock = (message: string, hint: string) =>
  `DO $cutover$ BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = '${message.replace(/'/g, "''")}', HINT = '${hint.replace(/'/g, "''")}'; END $cutover$`;
/** A 0A000 refusal while mirroring: what the client is told, and the statement (and Query) that raises it on the source. */
interface Refusal {
  message: string;
  hint: string;
  inBlock: string;
  query: Buffer;
}
const refusal = (message: string, hint: string): Refusal => {
  const inBlock = refusedInBlock(message, hint);
  return { message, hint, inBlock, query: queryMessage(inBlock) };
};
const DDL_REFUSAL = refusal(DDL_REFUSED, DDL_HINT);
const LARGE_OBJECTS_REFUSAL = refusal(LARGE_OBJECTS_REFUSED, LARGE_OBJECTS_HINT);
const PREPARE_REFUSAL = refusal('PREPARE TRANSACTION is refused while a migration is mirroring writes', 'commit the transaction instead');
/** DDL's refusal, or its own when what makes a request DDL is a large-object write (classify.ts). */
const ddlRefusal = (largeObjects: boolean | undefined): Refusal => (largeObjects ? LARGE_OBJECTS_REFUSAL : DDL_REFUSAL);
/** Unsent answer bytes past which the session stops reading its backends (the client is not taking them). */
const CLIENT_BACKLOG = 1 << 20;
/** Requests waiting past which the client is not read either; read again once they are down to a quarter. */
const QUEUE_HIGH = 1024;
const QUEUE_HIGH_BYTES = 8 << 20;
/** Extended-protocol messages (and bytes) held waiting for their Sync or Flush, at most: then, at an Execute, sent as if a Flush came. */
const PENDING_LIMIT = 1024;
const PENDING_LIMIT_BYTES = 64 << 20;
/**
 * A routed read's answer is held until complete (so the source can answer
 * instead if the target fails) only up to this size; a larger one streams on
 * from the target, as the byte relay streams everything.
 */
const HELD_READ_LIMIT = 1 << 20;
/** A shadow answer only compared, not sent: past the limit, dropped (and not compared). */
const DROP_PAST_LIMIT = { limit: HELD_READ_LIMIT, start: () => null };
/**
 * An Execute the relay did not read: it follows a Parse of a name in use, which the server fails, skipping the
 * rest up to the Sync. It runs nothing, and is known as nothing.
 */
const SKIPPED_EXECUTE: ExecuteInfo = { txn: null, kind: 'unknown' };
const I = 0x49;
const T = 0x54;
const E = 0x45;

/** A session connection to one database, start-up done. */
export interface OpenedBackend {
  /** A read connection's place under the proxy's limit (target-sessions.ts). */
  lease?: ReadLease;
  stream: Duplex;
  cancel: CancelTarget | null;
  /** A parked read connection's link, handed on whole (parked-reads.ts). */
  link?: BackendLink;
  /** How the read connection started up: it may be parked under this when the session ends. */
  key?: string;
}

export interface RelayContext {
  live: LiveState;
  log: Logger;
  maxMessageSize: number;
  /** The breaker of the current mirror direction (it changes at promote). */
  guard: () => TargetGuard | null;
  /** The database the session's first link is connected to. */
  side: Side;
  /** Opens a session connection to one database (start-up done). */
  openSide: ((side: Side) => Promise<OpenedBackend>) | null;
  /** Opens a session connection for reads to the database that is not the source of truth; null when the proxy's limit says not now. */
  openReadSide?: (side: Side, settings: Record<string, string>) => Promise<OpenedBackend | null>;
  /** The settings a read connection to `side` starts with: the source of truth's defaults (read-side-settings.ts). */
  readSettings?: (source: BackendLink, side: Side) => Promise<Record<string, string>>;
  /** An ended session's idle read connection, kept for the next session that starts up as `key` says. */
  park?: (key: string, p: Parked) => void;
  /** The source of truth went away under the session. */
  onSourceDown?: () => void;
  allowDdl: boolean;
  sessionRoute: SessionRoute;
  /** Share of eligible reads also run on the other database and compared (0..1). */
  shadowSample: number;
  /** The change capture of a source of truth: drain and dirty-key statements in its dialect. */
  capture: (side: Side) => CaptureDialect;
  /** Dirty keys this session could not record on the source of truth `side`: its drainer records them. */
  recordDirty?: (side: Side, keys: DirtyKey[]) => void;
  /** Source transactions whose COMMIT failed (or was lost) after the mirror applied them: their keys are re-synced already. */
  commitsRefused?: (side: Side, txids: string[]) => void;
  /** The proxy's request and byte counters (the byte relay counts the same way). */
  stats?: { requests: number; bytesOut: number };
  /** Whether a read naming these relations must stay on the source of truth (mirror/unmirrored-relations.ts). */
  unmirrored?: (relations: string[] | undefined) => boolean;
  /** DDL let through (allowDdl); the function returned is called once its transaction has ended (mirror/unmirrored-relations.ts). */
  schemaChanging?: () => () => void;
  /** Renumbers the other database's answers to the source of truth's objects (oid-map.ts); absent for an SQLite side. */
  oids?: OidMap;
  /** Whether a write naming these relations may run a trigger or rule of the user's (mirror/unmirrored-relations.ts). */
  fires?: (relations: string[] | undefined) => boolean;
  /** The legacy database is an SQLite file: it has no functions of the user's to look after (verifySession). */
  sqliteLegacy?: boolean;
}

interface Unit {
  /**
   * `invalid`: a message type no frontend sends; the session ends there, as PostgreSQL ends it.
   * `copy`: CopyData, CopyDone or CopyFail sent before the COPY they follow began.
   */
  kind: 'query' | 'ext' | 'fn' | 'invalid' | 'copy';
  msgs: Message[];
  sync: boolean;
  /** Its first message does not read as its type says (framing.ts malformed): the source answers it, unread here. */
  broken?: true;
  /** Why an `invalid` unit ends the session. */
  reason?: string;
  /** Its answers go to no one (see hangUp). */
  unanswered?: true;
}

interface Prepared {
  parse: Buffer;
  cls: Classification;
  on: Set<Route>;
  /** The server made it (ParseComplete) somewhere: until then, a replay elsewhere waits to learn whether it failed. */
  made?: true;
  /** Not sent anywhere yet: a Parse of the segment being handled (markDefined). */
  unsent?: true;
  /**
   * What the name meant before this Parse (the unnamed statement, or a name closed earlier in the segment),
   * until the server answers it: a Parse skipped after an error leaves that in place.
   */
  replaced?: Prepared;
  /** Its parameter types name a type not built in, whose OID means another type on the other database: run on the source of truth. */
  userTypes?: boolean;
  /**
   * The unnamed statement only: each link's count of Query messages when it was parsed there. A Query
   * drops it on the server, the proxy's own BEGIN or COMMIT around a write too: then it is parsed again.
   * Keyed by the link, not its role: the count goes with the connection when promote swaps the roles.
   */
  queries?: WeakMap<BackendLink, number>;
}

/**
 * Statements that must run on the source but change no rows (LOCK, NOTIFY): outside a transaction there is nothing
 * to mirror, so they go as they are. LOCK there the server refuses (25P01), where wrapped in the proxy's transaction
 * it would succeed; a NOTIFY wrapped took 4 round trips where 1 does.
 */
function changesNoRows(c: Classification): boolean {
  return c.statements.length > 0 && c.statements.every((st) => st.node === 'LockStmt' || st.node === 'NotifyStmt');
}

/**
 * CALL of a procedure, or DO: either may COMMIT or ROLLBACK inside, which the
 * proxy's wrapping transaction forbids (2D000). Such a request is run again
 * as the client sent it (Relay.callCommitting).
 */
function endsTransactionsItself(c: Classification): boolean {
  return c.statements.length === 1 && (c.statements[0]!.node === 'CallStmt' || c.statements[0]!.node === 'DoStmt');
}

/** What a CALL or DO run again needs: the segment's statements, parsed anew where the first run left them. */
interface RunAgain {
  referenced: Set<string>;
  definedHere: Set<string>;
}

export class Relay {
  private readonly order: ResponseOrder;
  private readonly asm: MessageAssembler;
  private readonly queue: Unit[] = [];
  private pumping = false;
  private pending: Message[] = [];
  private pendingBytes = 0;
  /** Transaction status as it will be once every request sent so far is answered. */
  private predicted = I;
  /**
   * A segment a Flush sent before its Sync: where it went, whether we opened a transaction for it, and whether
   * what went was only Parses and Describes (described: nothing bound or run there, so its rest may be routed).
   */
  private openSegment: { link: BackendLink; wrapped: boolean; described?: true } | null = null;
  /** The part of that segment sent so far met an error: the server skips the rest up to the Sync. */
  private flushedError = false;
  private readonly statements = new Map<string, Prepared>();
  private readonly portals = new Map<string, string>();
  /** The session starts with a timeout set or SERIALIZABLE by default; null until the source says (liftSettings). */
  private liftsAtStart: boolean | null = null;
  private liftsAsked = false;
  /** The client has set one of them or begun a SERIALIZABLE transaction since (kept for the session: the value is not followed). */
  private liftsSet = false;
  /**
   * The client has SET or RESET client_encoding: its drains ask for UTF-8 from then on, since one pipelined behind
   * the SET is sent before the server reports the new encoding (DrainStatements.request).
   */
  private encodingSet = false;
  /**
   * What a new backend connection is given to share the session's state: the
   * last SET of each setting, in the order they were made. Kept by setting
   * (StatementInfo.setting), not as every statement run: a client setting
   * statement_timeout before each query grew it without end, and a target
   * opened later replayed all of it. The one before the last is kept too:
   * the last may be one the source refused (logged as it was sent), and the
   * setting then keeps the earlier value, as on the source.
   */
  private readonly sessionLog = new Map<string, string[]>();
  /** SETs run inside the open transaction block: session state only once it commits. */
  private readonly pendingSets: StatementInfo[] = [];
  /**
   * The source's error count (BackendLink.errors) when a SET was logged, or taken into the open block, before the
   * source answered it; null once answered. The log follows the statements' text, but the server undoes a SET when
   * an error rolls back what holds it (a later statement of the same string or Sync, a block ended by COMMIT after
   * an error): an error meanwhile means the log may be wrong, and the target's reads would run with a setting the
   * source no longer has. Reads stay on the source until the answer is in.
   */
  private loggedSetsFrom: number | null = null;
  private pendingSetsFrom: number | null = null;
  /** Why this session's reads stay on the source from now on (classify.ts sourceOnly), or null. */
  private sourceOnly: string | null = null;
  /**
   * A function the proxy does not know ran on the source (Classification.callsFunctions, a FunctionCall): the
   * session may have a temporary table or settings the read connection lacks. Looked at before the next
   * routed read (verifySession), not before: a session that never reads on the target never pays for it.
   */
  private unverified = false;
  /** The source session's own settings (pg_settings.source 'session') as last given to `verifiedOn`. */
  private verified = new Map<string, string>();
  private verifiedOn: BackendLink | null = null;
  /**
   * Names the segment being handled used (Bind, Describe) before a Parse of its own redefined them, with what
   * they named before it (undefined: nothing): the server meets that, and a replay must parse it, not the new
   * text (a Describe of a dropped unnamed statement ahead of a new Parse fails 26000 directly). Null mostly.
   */
  private usedBefore: Map<string, Prepared | undefined> | null = null;
  /** Statements made with SQL PREPARE (on the source only): a Parse of the same name must meet them there. */
  private readonly sqlPrepared = new Set<string>();
  /** Temporary relations the session created: dropping them is no schema change. */
  private readonly tempRelations = new Set<string>();
  /** DDL of this session's awaits its transaction's end on the source (ddlLetThrough). */
  private schemaSettling = false;
  /** The open transaction was begun READ ONLY: nothing to drain at its COMMIT (the drain's DELETE would fail 25006). */
  private txnReadOnly = false;
  private target: BackendLink | null = null;
  private targetOpening: Promise<BackendLink | null> | null = null;
  /** The target link's place under the proxy's limit on read connections, when it has one. */
  private targetLease: ReadLease | null = null;
  /** The read connection as opened, and how it started up: parked when the session ends (parked-reads.ts). */
  private parkAs: { link: BackendLink; key: string } | null = null;
  /**
   * A setting of the application's own (a dotted name: SET app.tenant, set_config) was given to the read
   * connection: DISCARD ALL resets its value but not the placeholder PostgreSQL made for it, so another session
   * there would read '' where a fresh connection reads NULL (current_setting(…, true)). Such a one is not parked.
   */
  private customSettingOnTarget = false;
  private closed = false;
  /** The database `source` is connected to. */
  private sot: Side;
  /** The client's plain BEGIN, answered already, to go out with its next request (one round trip fewer). */
  private deferredBegin = false;
  /**
   * Sends the held BEGIN on its own when no request follows at once: the
   * server's transaction must start when the client's did, or its
   * idle_in_transaction_session_timeout never fires, pg_stat_activity shows
   * the session idle, and now() is the next statement's time.
   */
  private beginHold: NodeJS.Timeout | null = null;
  /** Waiting at a boundary for the promote pause to end. */
  private resume: { done: Promise<void>; cancel(): void } | null = null;
  /** CancelRequests the client sent: a routed read it cancelled answers 57014, no fault of the target. */
  private cancels = 0;
  /**
   * A routed read chosen and not yet sent (its connection opening, the proxy asking the source about the
   * session or its settings): the source's count of answered requests once those ahead of it are answered,
   * or null (see cancelTargets).
   */
  private readPending: number | null = null;
  /** The client cancelled that read before it reached a server: sent there once it has (payOwedCancel). */
  private owedCancel = false;
  /** The client cancelled the request a promote's pause holds at the boundary (cancelTargets): it fails 57014 unsent. */
  private heldCancelled = false;
  /** The drain as a prepared statement on each source connection. */
  private readonly drains = new DrainStatements();
  /** The places (BackendLink.answered) of the drains sent to the source and not yet answered: see cancelTargets. */
  private readonly drainsAt = new Set<number>();
  /** Change rows of the open transaction drained behind its expected last write (drain-ahead.ts). */
  private readonly ahead = new DrainAhead();
  /**
   * The error that refused the dirty keys' record inside the client's transaction: the transaction is
   * aborted by it, and its COMMIT answers a bare ROLLBACK tag, which clients take for success.
   */
  private dirtyRefused: Message | null = null;
  /**
   * Backpressure, as the byte relay has it: while the client leaves more than
   * CLIENT_BACKLOG of its answers unread, the backends are not read (they
   * stop at their socket, as a server stops for a slow client) and no request
   * is sent; the client is not read while QUEUE_HIGH requests wait. Without
   * it, a client pipelining queries it never read the answers to filled the
   * proxy's memory (3.6 GB in 15 s), for every session.
   */
  private backlogged: { links: BackendLink[]; over: Promise<void>; end: () => void } | null = null;
  /** The client hung up: nothing is held back for it any more. */
  private clientLeft = false;
  private queuedBytes = 0;
  private clientPaused = false;

  constructor(
    private readonly client: Socket,
    private source: BackendLink,
    private readonly ctx: RelayContext,
    /** `raw`: the server's own FATAL, sent as it is instead of one made from code and message. */
    private readonly onFatal: (code: string, message: string, raw?: Buffer) => void,
  ) {
    this.order = new ResponseOrder(client, ctx.stats, { limit: CLIENT_BACKLOG, changed: (full) => this.clientBacklog(full) });
    this.asm = new MessageAssembler(ctx.maxMessageSize);
    this.sot = ctx.side;
    this.wireLinks();
  }

  private get guard(): TargetGuard | null {
    return this.ctx.guard();
  }

  /** Stream of the current source-of-truth connection (the session closes it). */
  get sourceStream(): Duplex {
    return this.source.stream;
  }

  /** Where a CancelRequest goes: the source of truth, and the target while a routed read runs there. */
  cancelTargets(): CancelTarget[] {
    this.cancels++;
    // a routed read on its way, nothing of the client's ahead of it on the source any more (the proxy's own questions
    // for the read at most, which a cancel there would stop instead): the cancel is the read's, owed to where it goes
    if (this.readPending !== null && this.source.answered >= this.readPending) {
      this.owedCancel = true;
      return [];
    }
    const t = this.target;
    // the request a promote's pause holds, nothing running on any server: the client sent it, so to it the request
    // runs. Sent to the idle server the cancel was ignored and the request ran in full once let go, where directly
    // it fails 57014 (a driver's statement deadline: lib/pq's context cancel, pgx's)
    if (this.resume && this.queue.length && this.source.pending === 0 && !(t && t.pending > 0)) {
      this.heldCancelled = true;
      return [];
    }
    // The source running the proxy's drain: the client's statement is done, its transaction is committing, and
    // PostgreSQL does not cancel a COMMIT. Sent there, the cancel stopped the drain and the transaction was rolled
    // back (40000) where directly it commits; a drain ahead, behind a write already done, failed the COMMIT so.
    const draining = this.drainsAt.has(this.source.answered);
    return [draining ? null : this.source.cancelKey, t && t.pending > 0 ? t.cancelKey : null].filter((k): k is CancelTarget => k !== null);
  }

  /** Inside a transaction or with work in flight: promote waits until no session is. */
  get busy(): boolean {
    return this.predicted !== I || this.openSegment !== null || this.source.pending > 0 || (this.pumping && !this.resume);
  }

  /** Each link's callbacks follow its role. */
  private wireLinks(): void {
    const src = this.source;
    src.keepsReports = true;
    src.unsolicited = (m) => this.order.direct(m.bytes);
    // the rows the client sent right behind the COPY that has now begun (queued behind it: onClientMessage)
    src.onCopyIn = () => {
      if (this.source === src) this.sendQueuedCopy();
    };
    src.onClose = () => {
      if (this.source === src) this.sourceLost();
    };
    src.onParse = (b, fate) => this.parsed(src, b, fate);
    const tgt = this.target;
    if (tgt) {
      tgt.keepsReports = false;
      tgt.onParse = (b, fate) => this.parsed(tgt, b, fate);
      tgt.unsolicited = () => undefined;
      tgt.onClose = () => {
        if (this.target === tgt) this.target = null;
      };
    }
  }

  /**
   * The server's answer to a Parse sent on `link`, the client's or a replay: a statement it did not make (a
   * syntax error, an aborted transaction, skipped after an error) is not there, and where it is nowhere the
   * client's later Bind must fail as directly (26000), or meet what the name meant before, not the new text
   * parsed again on the other connection. (A failed unnamed Parse has dropped the one before: the server drops
   * it first.)
   */
  private parsed(link: BackendLink, parse: Buffer, fate: ParseFate): void {
    const name = new BodyReader(parse).cstring();
    const p = this.statements.get(name);
    let rec = p;
    while (rec && rec.parse !== parse) rec = rec.replaced;
    if (!rec) return;
    if (fate === 'made') {
      rec.made = true;
      rec.replaced = undefined;
      return;
    }
    rec.on.delete(link.name);
    if (rec !== p || p.on.size) return;
    // skipped: the name means what it meant before, the latest Parse of it the server did not refuse
    let back = fate === 'skipped' ? p.replaced : undefined;
    while (back && !back.on.size) back = back.replaced;
    if (back) this.statements.set(name, back);
    else this.statements.delete(name);
  }

  /** Whether any of `names` was parsed on the source and its answer has not come. */
  private unanswered(names: Set<string>): boolean {
    for (const n of names) {
      const p = this.statements.get(n);
      if (p && !p.made && p.on.has('source')) return true;
    }
    return false;
  }

  /** Bytes from the client. Throws FrameError on malformed framing. */
  push(chunk: Buffer): void {
    this.asm.push(chunk, this.onClientMessage);
  }

  private countRequest(): void {
    if (this.ctx.stats) this.ctx.stats.requests++;
  }

  /**
   * The client hung up. Extended-protocol messages it sent after its last Sync
   * or Flush still run, as PostgreSQL runs each message when it arrives (an
   * Execute of COMMIT commits; an implicit transaction without its Sync rolls
   * back when the session ends): they go as if a Flush had followed them.
   */
  hangUp(): void {
    // nobody reads the answers any more: connections paused for the client go on, what they send dropped
    // (PostgreSQL ends a backend whose client is gone at its next write; held paused, the query ran for ever)
    this.clientLeft = true;
    this.clientBacklog(false);
    // a COPY FROM STDIN the client left: the server would wait for its data for good, holding its locks
    if (this.source.copyIn && !this.source.lost) this.source.write(copyFailMessage('the client closed its connection during COPY'));
    // after a Terminate the server runs them and closes without sending their answers (it sends only at a Sync or
    // Flush, or an error): the client, still reading until the close, gets none either
    if (this.pending.length) this.sendPending(false, this.terminated);
  }

  /** The extended-protocol messages held since the last Sync or Flush go on as one request (`sync`: it ends in a Sync). */
  private sendPending(sync: boolean, unanswered = false): void {
    // the server keeps its answers until a Sync or Flush: one is added, so what was sent is answered and known done
    if (!sync && this.pending.at(-1)?.type !== 0x48) this.pending.push(FLUSH_MESSAGE);
    this.enqueue({ kind: 'ext', msgs: this.pending, sync, ...(unanswered ? { unanswered } : {}) });
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Nothing queued, nothing being handled, no answer awaited (a transaction may be open). */
  get quiescent(): boolean {
    return !this.pumping && this.queue.length === 0 && this.source.pending === 0;
  }

  /** No request in flight and no transaction open. */
  get idle(): boolean {
    return this.quiescent && this.predicted === I;
  }

  /**
   * The client sent Terminate: what follows it in its last packet is not read, as PostgreSQL stops reading
   * there, and the session ends once what came before is carried out.
   */
  terminated = false;

  /**
   * A malformed extended-protocol message, waiting for its Sync: the server raises an ERROR for it and skips
   * everything up to the Sync (Query and COPY data too), so what comes between is dropped here.
   */
  private skipping: Message | null = null;

  private readonly onClientMessage = (m: Message): void => {
    if (this.terminated) return;
    if (overlong(m)) {
      // the server ends the session without running what came since the last Sync
      this.pending = [];
      this.pendingBytes = 0;
      this.skipping = null;
      this.enqueue({ kind: 'invalid', msgs: [m], sync: true, reason: `invalid message length ${m.bytes.length - 1} for message type "${String.fromCharCode(m.type)}"` });
      return;
    }
    if (this.skipping) {
      if (m.type === 0x58) this.terminated = true;
      else if (m.type === 0x53) {
        this.countRequest();
        this.enqueue({ kind: 'ext', msgs: [m], sync: true });
        this.skipping = null;
      }
      return;
    }
    // (a Sync or Flush during COPY FROM STDIN is the COPY's, which the server ignores whatever it holds)
    const copying = this.source.copyIn && !this.pending.length;
    if (BODIES_READ.has(m.type) && !(copying && (m.type === 0x53 || m.type === 0x48)) && malformed(m)) {
      // what came before it runs first, as the server runs each message as it comes
      if (this.pending.length) this.sendPending(false);
      if (m.type === 0x53 || m.type === 0x51) {
        // not extended-protocol: an error, a ReadyForQuery, and nothing skipped
        this.countRequest();
        this.enqueue({ kind: m.type === 0x51 ? 'query' : 'ext', msgs: [m], sync: true, broken: true });
      } else {
        // the server answers it at once, Sync or not (a client may wait for that before its Sync), then skips to the Sync
        this.enqueue({ kind: 'ext', msgs: [m, FLUSH_MESSAGE], sync: false, broken: true });
        this.skipping = m;
      }
      return;
    }
    switch (m.type) {
      case 0x64: // CopyData
      case 0x63: // CopyDone
      case 0x66: // CopyFail
        // COPY FROM is a write: source. A client may send its rows right behind the COPY without waiting for
        // CopyInResponse (asyncpg does) while the COPY still waits its turn here: they wait behind it, and go
        // once the server is in COPY mode (wireLinks) or once what came before them was sent (pump), where
        // the server ignores them if no COPY began, as it ignores any outside COPY.
        if (this.source.copyIn && !this.queue.length) this.source.write(m.bytes);
        else this.enqueue({ kind: 'copy', msgs: [m], sync: false });
        return;
      case 0x51: // Query
        // the server runs the extended-protocol messages before it first (or, if one failed, skips the Query)
        if (this.pending.length) this.sendPending(false);
        this.countRequest();
        this.enqueue({ kind: 'query', msgs: [m], sync: true });
        return;
      case 0x46: // FunctionCall
        if (this.pending.length) this.sendPending(false);
        this.noteFunctionCall();
        this.countRequest();
        this.enqueue({ kind: 'fn', msgs: [m], sync: true });
        return;
      case 0x53: // Sync
      case 0x48: // Flush
        if (this.source.copyIn && !this.pending.length) {
          // part of the COPY's request (BackendLink.copyIn), not one of its own
          this.source.write(m.bytes);
          return;
        }
        this.pending.push(m);
        if (m.type === 0x53) this.countRequest();
        this.sendPending(m.type === 0x53);
        return;
      case 0x58: // Terminate: the session hangs up as for the client's own (Session.clientGone carries out what came before)
        this.terminated = true;
        return;
      case 0x50: // Parse
      case 0x42: // Bind
      case 0x44: // Describe
      case 0x45: // Execute
      case 0x43: // Close
        this.pending.push(m);
        this.pendingBytes += m.bytes.length;
        // a client may send without end and never a Sync (the server runs each message as it comes): past the
        // limit what came so far goes on as if a Flush had followed it, instead of piling up here
        if (m.type === 0x45 && (this.pending.length >= PENDING_LIMIT || this.pendingBytes >= PENDING_LIMIT_BYTES)) this.sendPending(false);
        return;
      default:
        if (this.pending.length) this.sendPending(false);
        this.enqueue({ kind: 'invalid', msgs: [m], sync: true });
    }
  };

  private enqueue(u: Unit): void {
    this.queue.push(u);
    for (const m of u.msgs) this.queuedBytes += m.bytes.length;
    if (!this.clientPaused && this.queue.length > 1 && (this.queue.length >= QUEUE_HIGH || this.queuedBytes >= QUEUE_HIGH_BYTES)) {
      this.clientPaused = true;
      this.client.pause();
    }
    if (!this.pumping) void this.pump();
  }

  /** Copy messages at the head of the queue, to the source: their COPY has begun, or what came before them was sent. */
  private sendQueuedCopy(): void {
    while (this.queue[0]?.kind === 'copy') this.source.write(this.dequeue().msgs[0]!.bytes);
  }

  /** The next request to handle, the client read again once few wait. */
  private dequeue(): Unit {
    const u = this.queue.shift()!;
    for (const m of u.msgs) this.queuedBytes -= m.bytes.length;
    if (this.clientPaused && this.queue.length <= QUEUE_HIGH / 4 && this.queuedBytes <= QUEUE_HIGH_BYTES / 4) {
      this.clientPaused = false;
      this.client.resume();
    }
    return u;
  }

  /** The client's unread answers passed CLIENT_BACKLOG (full), or have all left. */
  private clientBacklog(full: boolean): void {
    if (full) {
      if (this.backlogged || this.clientLeft) return;
      const links = [this.source, this.target].filter((l): l is BackendLink => l !== null && !l.lost);
      for (const l of links) l.stopReading('client');
      let end!: () => void;
      const over = new Promise<void>((r) => (end = r));
      this.backlogged = { links, over, end };
      return;
    }
    const b = this.backlogged;
    if (!b) return;
    this.backlogged = null;
    for (const l of b.links) l.readAgain('client');
    b.end();
  }

  /** Whether this session has stopped reading its backends for its client (routed reads' deadlines wait meanwhile). */
  private readonly stalled = (): boolean => this.backlogged !== null;

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length && !this.closed) {
        if (this.queue[0]!.kind === 'copy') {
          this.sendQueuedCopy();
          continue;
        }
        if (this.backlogged) {
          await this.backlogged.over;
          if (this.closed) break;
        }
        // the server's word over the prediction once everything sent is answered: an error skips the rest of a
        // Query or segment, a COMMIT or ROLLBACK in it too, and the session is still in its (failed) block
        if (!this.source.pending && !this.openSegment && !this.deferredBegin && !this.source.lost) this.predicted = this.source.status;
        // SETs logged are settled once their requests are answered, not at the next routed read: an error in a
        // request after them (asyncpg's pool resets with RESET ALL among other statements, then a write fails
        // 23505) says nothing of them, and must not keep the session's reads on the source for good
        if (this.loggedSetsFrom !== null && !this.source.pending && !this.openSegment) this.settingsUnsettled();
        if (this.predicted === I && !this.openSegment) {
          // a transaction boundary: the only place a session may wait for promote or change databases
          this.resume = waitWhilePaused(this.ctx.live);
          if (this.resume) await this.resume.done;
          this.resume = null;
          if (this.closed) break;
          if (this.ctx.live.get().sourceOfTruth !== this.sot && !(await this.followSourceOfTruth())) break;
          if (!this.ahead.idle) await this.aheadLeftAtBoundary();
        }
        const u = this.dequeue();
        if (this.heldCancelled) {
          this.heldCancelled = false;
          if (this.failCancelled(u)) continue;
        }
        if (u.unanswered) this.order.mute();
        this.usedBefore = null;
        this.readPending = null;
        if (this.deferredBegin) this.sendDeferredBegin();
        // a request handled at once (a read, most statements in a transaction) is not waited on as a promise:
        // the await costs more than the handling, on every request
        if (this.openSegment && (u.kind === 'query' || u.kind === 'fn')) await this.inSegment(u);
        else if (u.broken) await this.sendBroken(u);
        else if (u.kind === 'query') {
          const p = this.onQuery(u);
          if (p) await p;
        } else if (u.kind === 'ext') await this.onExtended(u);
        else if (u.kind === 'invalid') {
          // what came before it is answered first, as the server reads messages in order
          await this.source.whenIdle();
          this.onFatal('08P01', u.reason ?? `invalid frontend message type ${u.msgs[0]!.type}`);
          break;
        } else if (this.mirroring && !this.ctx.allowDdl && callsLargeObjectWriter(u.msgs[0]!.bytes)) {
          // a FunctionCall answers as a Query does (ErrorResponse, ReadyForQuery): the refusal stands in for it
          this.refuse(LARGE_OBJECTS_REFUSAL);
        } else {
          if (this.predicted !== I) await this.aheadBefore('other', 0);
          // outside a block the call commits on its own, and any function may write: an autocommit write, mirrored
          // before its answer (sent as it was, a routed read right after missed its rows until the drainer came by)
          if (this.predicted === I && this.mirroring) await this.wrapAutocommit(u.msgs, false);
          else this.forward(this.source, u.msgs);
        }
      }
    } catch (e) {
      if (e instanceof FrameError) {
        // a message whose body does not read as its type says (an unterminated string, a count past its end)
        this.ctx.log.warn({ reason: e.message }, 'closing session: bad message from client');
        await this.source.whenIdle();
        this.onFatal(e.code, e.message);
        return;
      }
      this.ctx.log.error({ err: e }, 'relay failed');
      this.onFatal('XX000', `internal proxy error: ${(e as Error).message}`);
    } finally {
      this.pumping = false;
    }
  }

  // ---- promote: follow the source of truth ----

  /**
   * A whole request cancelled before it was sent anywhere, outside a transaction block: answered as the server
   * answers one cancelled at its start (nothing of it ran, a statement it parses is not made). False: sent on.
   */
  private failCancelled(u: Unit): boolean {
    if (u.unanswered || u.broken || !(u.kind === 'query' || (u.kind === 'ext' && u.sync))) return false;
    const slot = this.order.open();
    slot.write(errorResponse({ severity: 'ERROR', code: '57014', message: 'canceling statement due to user request' }));
    slot.write(readyForQuery('I'));
    slot.end();
    return true;
  }

  /** Swap the links' roles when the source of truth moved; false if the session had to end. */
  private async followSourceOfTruth(): Promise<boolean> {
    const want = this.ctx.live.get().sourceOfTruth;
    if (want === this.sot || !this.ctx.openSide) return true;
    await this.source.whenIdle();
    if (this.closed) return false;
    // judged by the errors of the connection that ran them, before it changes roles
    this.settingsUnsettled();
    let next = this.target && !this.target.lost ? this.target : null;
    // the read connection becomes the session's source connection: no longer one of the limited read connections
    this.targetLease?.give();
    this.targetLease = null;
    this.parkAs = null;
    if (!next) {
      try {
        const opened = await this.ctx.openSide(want);
        next = new BackendLink('target', opened.stream);
        next.cancelKey = opened.cancel;
      } catch (e) {
        this.ctx.log.warn({ reason: (e as Error).message, side: want }, 'cannot reach the new source of truth');
        this.closed = true;
        this.onFatal('08006', `cannot reach the source of truth (the ${want} database): ${(e as Error).message}`);
        return false;
      }
      // session state follows: SETs replayed, prepared statements parsed again when used
      for (const sql of this.replayed()) next.request(queryMessage(sql), Collect.quiet());
      for (const p of this.statements.values()) p.on.delete('target');
      this.target?.destroy();
    } else {
      // the read connection becomes the source: writable again, as the session left it
      next.request(READ_WRITE_DEFAULT, Collect.quiet());
      for (const [key, sqls] of this.sessionLog) if (touchesReadOnly(key)) for (const sql of sqls) next.request(queryMessage(sql), Collect.quiet());
    }
    const old = this.source;
    if (!old.lost) old.request(READ_ONLY_DEFAULT, new Collect());
    old.name = 'target';
    next.name = 'source';
    for (const p of this.statements.values()) {
      const onSource = p.on.has('source');
      const onTarget = p.on.has('target');
      p.on.clear();
      if (onSource) p.on.add('target');
      if (onTarget) p.on.add('source');
    }
    this.source = next;
    this.target = old.lost ? null : old;
    this.sot = want;
    this.wireLinks();
    this.ctx.log.debug({ sourceOfTruth: want }, 'session follows the new source of truth');
    return true;
  }

  /**
   * A malformed message ahead of its Sync, with a Flush (the Sync follows alone), or a malformed Query or Sync: the server
   * answers it with an ERROR, which fails the transaction it is in, and carries on. It goes where the
   * segment's earlier part went, unread and unrouted; our transaction around that part (a write) is rolled
   * back, as the server's implicit one is.
   */
  private async sendBroken(u: Unit): Promise<void> {
    if (!u.sync) return this.sendAheadOfSync(u.msgs.map((m) => m.bytes), 1);
    const segment = this.openSegment;
    this.openSegment = null;
    if (segment?.wrapped) return this.finishWrapped(u.msgs, false);
    this.forward(segment?.link ?? this.source, u.msgs);
  }

  // ---- simple protocol ----

  private readonly noteFlushedError = (): void => {
    if (this.openSegment) this.flushedError = true;
  };

  /**
   * A Query or FunctionCall behind extended-protocol messages whose Sync has not come: it goes where they went,
   * unrouted, once their answer is in. If one of them failed the server skips it up to the Sync, and so it is
   * not sent (the client gets no answer, as from the server). Its writes are mirrored with the segment's when
   * the proxy opened a transaction for it, and by the drainer otherwise.
   */
  private async inSegment(u: Unit): Promise<void> {
    const { link, wrapped } = this.openSegment!;
    await link.whenIdle();
    if (this.flushedError || this.closed) return;
    if (u.broken) return this.sendBroken(u);
    if (u.kind !== 'query') {
      this.forward(link, u.msgs);
      return;
    }
    this.statements.delete('');
    const text = queryText(u.msgs[0]!.bytes);
    const c = classify(text.sql);
    const inTxn = this.predicted !== I;
    this.noteStatementDrops(c);
    // refused DDL is raised on the source instead, so the server's transaction fails as it would for the DDL's error
    // (DDL among transaction control too: onQuery's split refuses that piece by piece, this Query goes whole)
    const ddl = this.mirroring && (this.kindOf(c) === 'ddl' || (c.kind === 'txn' && c.statements.some((st) => st.kind === 'ddl')));
    const refused = ddl && !this.ctx.allowDdl;
    if (ddl && !refused) this.ddlLetThrough();
    const msgs = refused ? [{ type: 0x51, bytes: ddlRefusal(writesLargeObjects(c)).query }] : u.msgs;
    if (!refused) this.noteQueryState(c, inTxn);
    const txns = refused ? [] : c.statements.filter((s) => s.kind === 'txn');
    if (txns.length && link === this.source && this.mirroring && (wrapped || needsSplit(c, inTxn))) {
      // transaction control where our transaction stands in for the server's implicit one (a BEGIN takes it over,
      // COMMIT commits it, with a warning, as the server's), or among writes: in pieces, each COMMIT after the
      // mirror has the changes. Whatever the pieces do, our transaction is over when they are: the rest of the
      // segment starts where they leave the session
      this.openSegment = { link, wrapped: false };
      return this.runSplit(simplePieces(text.sql, c, text.latin1), { standIn: wrapped, reparse: new Set(), flushedFailed: false });
    }
    if (txns.length === 0 && !inTxn && link === this.source) {
      // the Query ends the server's implicit transaction, the segment's with it: committed as an autocommit write is
      const copies = c.statements.some((st) => st.node === 'CopyStmt');
      this.openSegment = null;
      if (wrapped) return this.finishWrapped(msgs, copies);
      if (this.mirroring && !refused && WRITES.has(c.kind)) return this.wrapAutocommit(msgs, copies);
    }
    if (refused && inTxn) this.predicted = E;
    this.predictFrom(txns.map((s) => s.txn!), txns.at(-1)?.chain);
    this.forward(link, msgs);
  }

  private onQuery(u: Unit): Promise<void> | void {
    // the client's Query drops the unnamed statement, wherever it runs: a later Bind of it fails, as directly
    this.statements.delete('');
    const text = queryText(u.msgs[0]!.bytes);
    const c = classify(text.sql);
    const inTxn = this.predicted !== I;
    this.noteStatementDrops(c);
    if (this.refuseDdl(this.kindOf(c), writesLargeObjects(c))) return;
    this.noteQueryState(c, inTxn, c.statements.length === 1);
    // COPY … TO STDOUT streams; a routed read is held until complete, so exports stay on the source
    const streams = c.statements.some((st) => st.node === 'CopyStmt');
    const r = streams ? 'source' : this.routeOf(c.kind, c.pinned, inTxn, c.system || this.namesUnmirrored(c));
    mirrorMetrics.queries.inc(r, c.kind);
    if (r === 'target') {
      this.readPending = this.source.answered + this.source.pending;
      return this.routedRead(u.msgs, []);
    }
    // the server's own catalogs differ between servers by nature: never compared
    if (!streams && !c.system && !c.unstable && this.shouldShadow(c.kind, inTxn)) return this.shadowRead(u.msgs, orderOf(c), new Set(), new Set(), c.statements[0]?.text ?? '');
    const txns = c.statements.filter((s) => s.kind === 'txn');
    const mirroring = this.mirroring;
    const step = inTxn ? aheadStep(mirroring, c.statements.length === 1 ? (txns[0]?.txn ?? null) : txns.length ? 'many' : null, c.kind, streams) : 'other';
    const ahead = inTxn ? this.aheadBefore(step, c.id) : undefined;
    if (ahead) return ahead.then(() => this.sendQuery(u, text, c, inTxn, step, streams, txns, mirroring));
    return this.sendQuery(u, text, c, inTxn, step, streams, txns, mirroring);
  }

  /** A simple Query past routing and drain-ahead: mirrored, split, or sent to the source as it is. */
  private sendQuery(u: Unit, { sql, latin1 }: { sql: string; latin1: boolean }, c: Classification, inTxn: boolean, step: AheadStep, streams: boolean, txns: Classification['statements'], mirroring: boolean): Promise<void> | void {
    // after any drain ahead, which may prepare the drain statement again
    if (c.listsPrepared) this.drains.hide(this.source, this.target);
    if (mirroring && needsSplit(c, inTxn)) return this.runSplit(simplePieces(sql, c, latin1));
    if (mirroring && !inTxn && WRITES.has(c.kind) && !changesNoRows(c)) return this.wrapAutocommit(u.msgs, streams, endsTransactionsItself(c));
    if (mirroring && inTxn && c.statements.length === 1 && txns[0]?.txn === 'commit') {
      this.predicted = txns[0].chain ? T : I;
      return this.commitWithMirror(u.msgs, txns[0].chain);
    }
    if (mirroring && !inTxn && txns.length === 1 && c.statements.length === 1 && txns[0]!.txn === 'begin' && PLAIN_BEGIN.test(sql)) {
      // nothing can fail in a plain BEGIN outside a transaction: answer it now, send it with the next request
      this.predicted = T;
      this.deferredBegin = true;
      this.beginHold = setTimeout(() => {
        this.beginHold = null;
        if (this.deferredBegin && !this.closed) this.sendDeferredBegin();
      }, BEGIN_HOLD_MS);
      const slot = this.order.open();
      slot.write(BEGIN_ANSWER);
      slot.end();
      return;
    }
    this.predictFrom(txns.map((s) => s.txn!), txns.at(-1)?.chain);
    const f = this.forward(this.source, u.msgs);
    if (c.kind === 'read') this.timeRead(f);
    else if (step === 'write') this.maybeDrainAhead(c.id);
  }

  /** Source read latency, the baseline the target's p99 is compared with (control/gates.ts). */
  private timeRead(f: Forward): void {
    const started = process.hrtime.bigint();
    void f.failed.then((failed) => failed || recordRead('source', started));
  }

  /** The deferred BEGIN, pipelined (same writev) ahead of the request about to be sent. */
  private sendDeferredBegin(): void {
    this.deferredBegin = false;
    if (this.beginHold) clearTimeout(this.beginHold);
    this.beginHold = null;
    const begin = new Collect();
    this.source.request(queryMessage('BEGIN'), begin);
    void begin.done.then(
      (status) => {
        if (status === T && !begin.error) return;
        // the client was told it is in a transaction: it must not carry on outside one
        this.ctx.log.error({ status: String.fromCharCode(status) }, 'deferred BEGIN failed on the source');
        this.closed = true;
        this.onFatal('XX000', 'internal proxy error: the transaction could not be started on the source');
      },
      () => undefined,
    );
  }

  // ---- extended protocol ----

  private async onExtended(u: Unit): Promise<void> {
    const referenced = new Set<string>();
    const definedHere = new Set<string>();
    /** Statements the segment closes, with what each name meant when its Close came (a Parse after it may reuse the name). */
    const closes = new Map<string, Prepared | undefined>();
    let kind: Kind | null = null;
    let pinned: Route | null = null;
    let system = false;
    const txnOps: TxnOp[] = [];
    /** The segment's last transaction-control statement is COMMIT/ROLLBACK AND CHAIN. */
    let chained = false;
    const executes = new Map<Message, ExecuteInfo>();
    let executed = 0;
    let changesNone = true;
    /** The segment's one Execute runs a CALL or DO, which may COMMIT inside (callCommitting). */
    let callsProcedure = false;
    /** The segment reads pg_prepared_statements (DrainStatements.hide). */
    let listsPrepared = false;
    /** An Execute writes a large object (refused as DDL is, with its own message). */
    let largeObjects = false;
    // outside a transaction every portal made before is gone (the server drops them at its end): so are they here,
    // or a client naming a new portal each time (JDBC's C_1, C_2 …) grew the map for as long as it stayed connected
    if (this.portals.size && this.predicted === I && !this.openSegment) this.portals.clear();
    const alone = u.sync && !this.openSegment && u.msgs.filter((m) => m.type === 0x45).length <= 1;
    let doomed = false;
    /** Whether a block is open where the segment has got to. */
    let open = this.predicted !== I;
    for (const m of u.msgs) {
      // after a Parse that fails the server runs nothing up to the Sync: what follows changes no state here either
      if (doomed) break;
      const r = new BodyReader(m.bytes);
      switch (m.type) {
        case 0x50: { // Parse
          const name = r.cstring();
          const sql = r.cstring();
          const types: number[] = [];
          for (let n = r.int16(); n > 0; n--) types.push(r.int32() >>> 0);
          const cls = classify(sql);
          // a name SQL PREPARE took: the source answers (42P05), as PostgreSQL would
          if (name && this.sqlPrepared.has(name)) pinned = 'source';
          if (OWN_STATEMENTS.includes(name)) this.drains.yieldName(this.source, this.target);
          if (name && this.statements.has(name) && !closes.has(name)) {
            // a name in use (the server answers 42P05, and skips to the Sync): the statement stays what it was,
            // and must be where the segment runs for the server to say so
            if (!definedHere.has(name)) referenced.add(name);
            doomed = true;
            break;
          }
          this.noteStatementDrops(cls);
          // hidden already where it is parsed: asyncpg parses with a Flush (Parse, Describe, Flush) and binds in the
          // rest of that segment, where no Close with a Sync of its own can go ahead of the Execute any more
          if (cls.listsPrepared) listsPrepared = true;
          // before the statement is recorded: a DISCARD ALL or DEALLOCATE ALL forgets every statement but itself
          if (cls.kind === 'session') this.forgetDeallocated(cls);
          if (referenced.has(name) && !this.usedBefore?.has(name)) (this.usedBefore ??= new Map()).set(name, this.statements.get(name));
          const replaced = this.statements.get(name);
          // (a few back at most: Parses never answered must not hold every one before them)
          let back = replaced;
          for (let i = 0; back && i < 4; i++) back = back.replaced;
          if (back) back.replaced = undefined;
          this.statements.set(name, { parse: m.bytes, cls, on: new Set(), unsent: true, ...(replaced ? { replaced } : {}), ...(namesUserTypes(types) ? { userTypes: true } : {}), ...(name === '' ? { queries: new WeakMap() } : {}) });
          definedHere.add(name);
          this.noteSourceOnly(cls);
          break;
        }
        case 0x42: { // Bind
          const portal = r.cstring();
          const stmt = r.cstring();
          this.portals.set(portal, stmt);
          if (!definedHere.has(stmt)) referenced.add(stmt);
          break;
        }
        case 0x44: { // Describe
          const what = r.bytes(1)[0];
          const name = r.cstring();
          if (what === 0x53 && !definedHere.has(name)) referenced.add(name);
          break;
        }
        case 0x45: { // Execute
          const stmt = this.portals.get(r.cstring());
          const p = stmt === undefined ? undefined : this.statements.get(stmt);
          const k = p ? this.kindOf(p.cls) : 'unknown';
          if (p?.cls.pinned) pinned = p.cls.pinned;
          if (p?.userTypes) pinned = 'source';
          if (p && (p.cls.system || this.namesUnmirrored(p.cls))) system = true;
          // a SET counts where it runs, not where it is parsed: a named one may run again later, or never
          if (p?.cls.kind === 'session') this.noteSessionStatements(p.cls, open, alone, false);
          if (p && this.runsUserCode(p.cls)) this.noteFunctionCall();
          if (p?.cls.listsPrepared) listsPrepared = true;
          const writesLo = p !== undefined && writesLargeObjects(p.cls);
          if (writesLo) largeObjects = true;
          for (const s of p?.cls.statements ?? []) {
            if (!s.txn) continue;
            txnOps.push(s.txn);
            chained = Boolean(s.chain);
            if (s.txn === 'begin') open = true;
            else if (s.txn === 'commit' || s.txn === 'rollback' || s.txn === 'prepare') open = chained;
          }
          executes.set(m, { txn: p?.cls.statements.length === 1 ? (p.cls.statements[0]!.txn ?? null) : null, kind: k, ...(writesLo ? { largeObjects: true as const } : {}) });
          callsProcedure = executes.size === 1 && p !== undefined && endsTransactionsItself(p.cls);
          if (!p || !changesNoRows(p.cls)) changesNone = false;
          executed = p?.cls.id ?? 0;
          kind = kind === null ? k : combine(kind, k);
          break;
        }
        case 0x43: { // Close
          const what = r.bytes(1)[0];
          const name = r.cstring();
          if (what === 0x53 && !closes.has(name)) closes.set(name, this.statements.get(name));
          if (what === 0x53 && OWN_STATEMENTS.includes(name)) this.drains.forget(this.source, this.target);
          break;
        }
      }
    }
    const segKind: Kind = kind ?? 'session';
    const inTxn = this.predicted !== I;
    this.settleSets(txnOps);
    // outside a transaction nothing is drained ahead: the copies() scan is skipped on that hot path
    const step: AheadStep = !inTxn || !u.sync || this.openSegment || executes.size > 1
      ? 'other'
      : aheadStep(this.mirroring, txnOps[0] ?? null, segKind, this.copies(referenced, definedHere));
    if (inTxn) await this.aheadBefore(step, executed);
    // after any drain ahead, which may prepare the drain statement again
    if (listsPrepared && !this.openSegment) this.drains.hide(this.source, this.target);
    // the rest of a segment a Flush sent ahead runs where that went, past refuseDdl below: refused here too, or a
    // Parse and Bind of lo_from_bytea() flushed ahead of their Execute wrote a large object on the source alone
    const rest = this.openSegment !== null && segKind === 'ddl';
    const refusal = (!u.sync || rest) && this.mirroring ? unsyncedRefusal(txnOps, segKind, this.ctx.allowDdl, largeObjects) : null;
    if (refusal) {
      await this.refuseBeforeSync(refusal, u);
      // the server skips to the Sync, which ends the segment as it would have
      return u.sync ? this.onExtended({ ...u, msgs: u.msgs.slice(-1) }) : undefined;
    }
    if (rest && this.mirroring && this.ctx.allowDdl) this.ddlLetThrough();
    const routedRest = u.sync && !inTxn ? await this.routeDescribedRest(u, segKind, pinned, system) : null;
    if (this.openSegment) {
      // the rest of a segment a Flush already sent somewhere
      const open = this.openSegment;
      const { link } = open;
      let { wrapped } = open;
      // a stale unnamed statement there cannot be dropped now: the Close's own Sync would end the client's segment
      if (!this.meant('')) referenced.delete('');
      if (referenced.size) {
        // nor parsed again after an error in what was sent: the Sync would end the server's skipping to the client's
        await link.whenIdle();
        if (this.flushedError) referenced.clear();
      }
      // a write in the rest of a segment whose part sent so far only read: left in the server's implicit transaction
      // it reached the mirror only by the drainer, later than a read routed there next. That transaction is still
      // open: our BEGIN (a Query) makes it a block, drained and applied to the mirror at the Sync as a wrapped
      // write's is. (Not when the rest runs the unnamed portal the sent part made: the Query replaces it; nor for
      // an Execute of a statement not known, which the server refuses: the BEGIN's answer would take the
      // report of a setting the sent part made, which the client then never gets.)
      if (!wrapped && link === this.source && this.mirroring && !inTxn && txnOps.length === 0 && (segKind === 'write' || this.parsesWrite(u)) && !runsUnboundUnnamedPortal(u.msgs)) {
        await link.whenIdle();
        if (!this.flushedError && !this.closed) {
          link.request(queryMessage('BEGIN'), new Collect());
          wrapped = open.wrapped = true;
        }
      }
      if (u.sync) this.openSegment = null;
      if (u.sync && link === this.source && this.splits(txnOps, executes, inTxn || wrapped, true)) {
        // its COMMIT needs the mirror first too: the Sync ends what was sent, then the rest in pieces
        await link.whenIdle(); // whether what was sent failed
        this.ensureOn(link, referenced);
        await this.runSplit([SYNC_PIECE, ...extendedPieces(u.msgs.slice(0, -1), (e) => executes.get(e) ?? SKIPPED_EXECUTE)], { standIn: wrapped, reparse: onlyBound(referenced, definedHere), flushedFailed: this.flushedError });
        this.closeAll(closes, link);
        return;
      }
      if (wrapped && u.sync) {
        this.ensureOn(link, referenced);
        this.markDefined(link, definedHere);
        return this.finishWrapped(u.msgs, this.copies(referenced, definedHere), callsProcedure ? { referenced, definedHere } : undefined);
      }
      // more of it without a Sync: if what was sent failed, the server skips these and answers nothing to wait for
      if (!u.sync) await link.whenIdle();
      if (!onlyDescribes(u.msgs)) delete open.described;
      this.sendSegment(link, u, referenced, definedHere, closes, !u.sync && this.flushedError);
      this.predictFrom(txnOps, chained);
      return;
    }
    if (this.refuseDdl(segKind, largeObjects)) return;
    const r = routedRest ?? (u.sync ? this.routeOf(segKind, pinned, inTxn, system) : 'source');
    mirrorMetrics.queries.inc(r, segKind);
    if (r === 'target') {
      // (readyTarget is the same but for the look at the session: the usual path takes one await fewer)
      this.readPending = this.source.answered + this.source.pending;
      const target = this.unverified ? await this.readyTarget() : await this.ensureTarget();
      // read on the source instead: a cancel meanwhile goes there, the segment leaving before it (this turn)
      if (!target) this.payOwedCancel(this.source);
      if (target) {
        // the client may bind a statement before the source's answer to its Parse (pipelined): if that failed, the
        // statement is nowhere, and must not be parsed here
        if (this.unanswered(referenced)) await this.source.whenIdle();
        const replays = this.replaysFor(target, referenced);
        this.markDefined(target, definedHere);
        // its Closes reach the target only: the statements go from the source now, or pgjdbc's evicted S_n stayed
        // there for the session, and a name parsed again later met the old statement (42P05)
        this.closeAll(closes, target);
        return this.routedRead(u.msgs, replays, referenced, definedHere);
      }
    }
    if (u.sync && !system && this.shouldShadow(segKind, inTxn) && ![...definedHere, ...referenced].some((n) => this.statements.get(n)?.cls.unstable)) {
      const ordered = orderOf([...definedHere, ...referenced].map((n) => this.statements.get(n)?.cls).find((cls) => cls?.orderBy));
      const text = [...definedHere, ...referenced].map((n) => this.statements.get(n)?.cls.statements[0]?.text).find(Boolean) ?? '';
      return this.shadowRead(u.msgs, ordered, referenced, definedHere, text);
    }
    const mirroring = this.mirroring;
    if (mirroring && u.sync && this.splits(txnOps, executes, inTxn)) {
      // transaction control among other statements in one segment: run it in pieces, each COMMIT after drain-and-apply
      this.ensureOn(this.source, referenced);
      await this.runSplit(extendedPieces(u.msgs.slice(0, -1), (e) => executes.get(e) ?? SKIPPED_EXECUTE), { standIn: false, reparse: onlyBound(referenced, definedHere), flushedFailed: false });
      this.closeAll(closes, this.source);
      return;
    }
    if (mirroring && u.sync && !inTxn && WRITES.has(segKind) && txnOps.length === 0 && !(executes.size && changesNone)) {
      // our BEGIN first: as a Query it drops the unnamed statement, which a replay must then follow
      this.source.request(queryMessage('BEGIN'), new Collect());
      this.ensureOn(this.source, referenced);
      this.markDefined(this.source, definedHere);
      const again = callsProcedure ? { referenced, definedHere } : undefined;
      return this.finishWrapped(u.msgs, this.copies(referenced, definedHere), again);
    }
    if (mirroring && u.sync && inTxn && txnOps.length === 1 && txnOps[0] === 'commit' && u.msgs.filter((m) => m.type === 0x45).length === 1) {
      this.ensureOn(this.source, referenced);
      this.markDefined(this.source, definedHere);
      this.predicted = chained ? T : I;
      return this.commitWithMirror(u.msgs, chained);
    }
    // A Flush before Sync (drivers describing a new statement): if the statement writes, open our
    // transaction now, before the server starts the implicit one, and finish it at the Sync.
    const wrap = mirroring && !u.sync && !inTxn && txnOps.length === 0 && (this.parsesWrite(u) || WRITES.has(segKind));
    if (wrap) this.source.request(queryMessage('BEGIN'), new Collect());
    const f = this.sendSegment(this.source, u, referenced, definedHere, closes);
    if (f && segKind === 'read') this.timeRead(f);
    else if (f && step === 'write') this.maybeDrainAhead(executed);
    if (!u.sync) {
      this.openSegment = { link: this.source, wrapped: wrap, ...(onlyDescribes(u.msgs) ? { described: true as const } : {}) };
      this.flushedError = false;
    }
    this.predictFrom(txnOps, chained);
  }

  /**
   * A refused statement in a request a Flush sends ahead of its Sync (pg-cursor, drivers describing first):
   * the refusal is raised by the server, in place of the request, so the client hears it at once and its Sync
   * alone gets the ReadyForQuery, as for any error the server gives there. Answered here with a ReadyForQuery
   * of its own, the Sync's made a second; sent on, PREPARE TRANSACTION took the transaction past mirroring.
   */
  private refuseBeforeSync(sql: string, u: Unit): Promise<void> {
    // the client hears ParseComplete and BindComplete only for a Parse and a Bind of its own
    const withheld = new Set<number>();
    if (!u.msgs.some((m) => m.type === 0x50)) withheld.add(0x31);
    if (!u.msgs.some((m) => m.type === 0x42)) withheld.add(0x32);
    return this.sendAheadOfSync([parseMessage('', sql), bindMessage('', []), EXECUTE, FLUSH_MESSAGE.bytes], 3, withheld);
  }

  /**
   * The rest of a segment whose sent part only parsed and described (asyncpg prepares so: Parse, Describe, Flush,
   * then Bind, Execute, Sync once described), when it is a read outside a transaction the draw routes to the new
   * database: the source's part is ended with a Sync of our own (its answer withheld; nothing ran there), and the
   * rest is routed as a segment of its own, its statements parsed there first. Else the rest followed its first
   * part to the source, and asyncpg's reads without its statement cache (statement_cache_size=0, as behind a
   * pooler), or any statement's first run, never reached the new database. Null: not so, route as usual.
   */
  private async routeDescribedRest(u: Unit, kind: Kind, pinned: Route | null, system: boolean): Promise<Route | null> {
    const open = this.openSegment;
    if (!open?.described || open.wrapped || open.link !== this.source || kind !== 'read') return null;
    // the rest binds and runs what was described: a Parse or Close there would have to be answered in order with it
    if (!u.msgs.every((m) => m.type === 0x42 || m.type === 0x44 || m.type === 0x45 || m.type === 0x48 || m.type === 0x53)) return null;
    if (this.routeOf(kind, pinned, false, system) !== 'target') return null;
    // whether the sent part failed: the server skips to the Sync, the rest must meet the same there
    await open.link.whenIdle();
    if (this.flushedError || this.closed || this.openSegment !== open) return null;
    open.link.request([SYNC], new Collect());
    this.openSegment = null;
    return 'target';
  }

  /**
   * Messages of a segment whose Sync has not come, where its earlier part went (the source, if none went yet),
   * their `parts` answers to the client at once (SegmentWatch); an error among them fails the rest of the segment.
   */
  private async sendAheadOfSync(bytes: Buffer[], parts: number, withheld?: ReadonlySet<number>): Promise<void> {
    if (!this.openSegment) {
      this.openSegment = { link: this.source, wrapped: false };
      this.flushedError = false;
    }
    const link = this.openSegment.link;
    await link.whenIdle();
    // what came before already failed: the server skips this too, and answers nothing
    if (this.flushedError) return link.write(bytes);
    link.request(bytes, new SegmentWatch(this.order.open(), parts, this.noteFlushedError, withheld));
  }

  /** A segment to run in pieces (txn-split.ts): transaction control among statements that may commit a write, or PREPARE TRANSACTION. */
  private splits(txnOps: string[], executes: Map<Message, ExecuteInfo>, inTxn: boolean, continuing = false): boolean {
    if (!this.mirroring) return false;
    if (txnOps.includes('prepare')) return true;
    return txnOps.length > 0 && (executes.size > 1 || continuing) && (inTxn || [...executes.values()].some((e) => WRITES.has(e.kind)));
  }

  /** Whether a segment runs a COPY (which may copy in: wrapAutocommit must not pipeline behind it). */
  private copies(referenced: Set<string>, definedHere: Set<string>): boolean {
    for (const n of [...referenced, ...definedHere]) if (this.statements.get(n)?.cls.statements.some((st) => st.node === 'CopyStmt')) return true;
    return false;
  }

  private statementOf(parse: Message): Prepared | undefined {
    return this.statements.get(new BodyReader(parse.bytes).cstring());
  }

  /** Whether the request parses a statement that may write. */
  private parsesWrite(u: Unit): boolean {
    return u.msgs.some((m) => m.type === 0x50 && WRITES.has(this.statementOf(m)?.cls.kind ?? 'read'));
  }

  /** What `name` means for the segment being handled: as it was where the segment used it first (usedBefore). */
  private meant(name: string): Prepared | undefined {
    return this.usedBefore?.has(name) ? this.usedBefore.get(name) : this.statements.get(name);
  }

  /** `skipped`: messages without their Sync that the server will skip (an error before them): nothing answers them. */
  private sendSegment(link: BackendLink, u: Unit, referenced: Set<string>, definedHere: Set<string>, closes: Map<string, Prepared | undefined>, skipped = false): Forward | null {
    this.ensureOn(link, referenced);
    this.markDefined(link, definedHere);
    let f: Forward | null = null;
    if (u.sync) f = this.forward(link, u.msgs);
    else {
      const parts = partsAnswered(u.msgs);
      if (parts && !skipped) link.request(u.msgs.map((m) => m.bytes), new SegmentWatch(this.order.open(), parts, this.noteFlushedError));
      else link.write(u.msgs.map((m) => m.bytes));
    }
    this.closeAll(closes, link);
    return f;
  }

  // ---- prepared statements across backends ----

  private replaysFor(link: BackendLink, names: Set<string>): Buffer[] {
    const out: Buffer[] = [];
    for (const name of names) {
      const p = this.meant(name);
      // the client's Query dropped the unnamed statement where it ran, not on the other connection: gone there too
      if (!p && name === '') out.push(UNNAMED_CLOSE);
      if (p && (!p.on.has(link.name) || (p.queries && p.queries.get(link) !== link.simpleQueries))) {
        out.push(p.parse);
        this.defined(p, link);
      }
    }
    return out;
  }

  private defined(p: Prepared, link: BackendLink): void {
    p.unsent = undefined;
    p.on.add(link.name);
    p.queries?.set(link, link.simpleQueries);
  }

  /** Parse on `link` the statements it lacks, as an internal request the client never sees. */
  private ensureOn(link: BackendLink, names: Set<string>): void {
    const parses = this.replaysFor(link, names);
    if (parses.length) link.request([...parses, SYNC], new Collect());
  }

  private markDefined(link: BackendLink, names: Set<string>): void {
    for (const n of names) {
      const p = this.statements.get(n);
      if (!p) continue;
      this.defined(p, link);
      // the segment's earlier Parses of the name go where it goes too: if a later one is skipped after an error, the
      // name means the last of them the server made there (not nothing, as when only the last was marked)
      for (let back = p.replaced; back?.unsent; back = back.replaced) this.defined(back, link);
    }
  }

  /** The segment's Closes ran on `already`: the statements they met go from the other connections too. */
  private closeAll(closes: Map<string, Prepared | undefined>, already: BackendLink): void {
    for (const [name, was] of closes) this.closeEverywhere(name, already, was);
  }

  /** `was`: what the name meant when the Close came; a statement the segment parsed under it after the Close stays. */
  private closeEverywhere(name: string, already: BackendLink, was: Prepared | undefined): void {
    if (!was) return;
    for (const where of was.on) {
      const link = where === 'source' ? this.source : this.target;
      if (link && link !== already && !link.lost) link.request([closeMessage('S', name), SYNC], new Collect());
    }
    if (this.statements.get(name) === was) this.statements.delete(name);
  }

  /** What a simple Query that runs changes in the session: source-only state, SQL PREPAREs, settings. */
  private noteQueryState(c: Classification, inTxn: boolean, alone = false): void {
    this.noteSourceOnly(c);
    if (this.runsUserCode(c)) this.noteFunctionCall();
    this.noteSqlPrepared(c);
    // a SET may share its string with a write (`SET search_path …; INSERT …`): it is session state all the same
    this.noteSessionStatements(c, inTxn, alone);
  }

  /**
   * DISCARD ALL, DEALLOCATE ALL and a DEALLOCATE of our name drop our drain statement too, wherever they run (also
   * inside a longer request). A DEALLOCATE of the client's own leaves it: forgotten, it was not hidden from the
   * client's next look at pg_prepared_statements (psycopg 3 evicts its statements so, one by one).
   */
  private noteStatementDrops(c: Classification): void {
    for (const s of c.statements) if (s.deallocates === '*' || (s.deallocates !== undefined && OWN_STATEMENTS.includes(s.deallocates))) this.drains.forget(this.source, this.target);
  }

  /**
   * Session state a request changes, carried to the target. A SET inside a
   * transaction block lasts only if the block commits: it waits, and a
   * ROLLBACK drops it (the source forgot it too). `inTxn`: the request
   * starts inside a block. `alone`: the statement is its request's only one, so only its own
   * failure can undo it, which the log allows for (logSessionState).
   */
  private noteSessionStatements(c: Classification, inTxn: boolean, alone = false, forget = true): void {
    let open = inTxn;
    if (forget) this.forgetDeallocated(c);
    for (const s of c.statements) {
      if (s.txn === 'begin') this.txnReadOnly = Boolean(s.readOnly);
      if (s.node === 'VariableSetStmt' && s.readOnly) this.txnReadOnly = true;
      if (s.txn) {
        this.settleSets([s.txn]);
        if (s.txn === 'begin') open = true;
        else if (s.txn === 'commit' || s.txn === 'rollback' || s.txn === 'prepare') open = Boolean(s.chain);
      }
      if (s.node === 'VariableSetStmt' && !s.local && open) {
        this.pendingSets.push(s);
        this.pendingSetsFrom ??= this.source.errors;
      } else if ((s.node === 'VariableSetStmt' && !s.local) || s.node === 'DiscardStmt' || s.node === 'DeallocateStmt') {
        if (s.setting && !alone) this.loggedSetsFrom ??= this.source.errors;
        this.logSessionState(s);
      }
    }
  }

  /**
   * DEALLOCATE name / ALL, DISCARD ALL: the statements are gone where the command runs; the
   * target gets the same command through the session log (DISCARD PLANS or TEMP keeps them)
   */
  private forgetDeallocated(c: Classification): void {
    for (const s of c.statements) {
      // (the unnamed statement is not one DEALLOCATE ALL or DISCARD ALL drops)
      if (s.deallocates === '*') {
        for (const name of this.statements.keys()) if (name !== '') this.statements.delete(name);
      } else if (s.deallocates) this.statements.delete(s.deallocates);
    }
  }

  /** The end of a transaction block: its SETs are session state from now on (COMMIT), or never were (ROLLBACK). */
  private settleSets(ops: TxnOp[]): void {
    for (const op of ops) {
      if (op === 'commit') {
        if (this.pendingSetsFrom !== null) this.loggedSetsFrom = Math.min(this.loggedSetsFrom ?? Infinity, this.pendingSetsFrom);
        this.pendingSetsFrom = null;
        for (const s of this.pendingSets.splice(0)) this.logSessionState(s);
      } else if (op === 'rollback' || op === 'prepare') {
        this.pendingSets.length = 0;
        this.pendingSetsFrom = null;
      } else if (op === 'rollback_to' && this.pendingSets.length) {
        // which of the block's SETs came after the savepoint is the server's to know, not the log's
        this.settingsInDoubt('a SET in a transaction block rolled back to a savepoint');
      }
    }
  }

  /**
   * Whether SETs the source has not answered yet may still be undone there: reads stay on the source meanwhile.
   * Once answered, an error since they were sent makes the log untrustworthy: the session reads from the source.
   */
  private settingsUnsettled(): boolean {
    if (this.loggedSetsFrom === null) return false;
    if (this.source.pending > 0 || this.source.status !== I || this.pendingSets.length) return true;
    const doubt = this.source.errors > this.loggedSetsFrom;
    if (doubt) this.settingsInDoubt('a SET the source may have undone after an error');
    this.loggedSetsFrom = null;
    return doubt;
  }

  private settingsInDoubt(reason: string): void {
    this.loggedSetsFrom = null;
    if (this.sourceOnly) return;
    this.sourceOnly = reason;
    this.ctx.log.debug({ reason }, 'session settings the target may not share: this session reads from the source from now on');
  }

  /** The session-state statements a new connection runs, in order. */
  private replayed(): string[] {
    return [...this.sessionLog.values()].flat();
  }

  /** A session-state statement the source ran: the open target runs it too, and a later one gets what it leaves. */
  private logSessionState(s: StatementInfo): void {
    // RESET ALL, DISCARD ALL: a new connection starts in the state they leave
    if (s.setting === '*') this.sessionLog.clear();
    else if (s.setting) {
      const before = this.sessionLog.get(s.setting)?.at(-1);
      this.sessionLog.delete(s.setting);
      this.sessionLog.set(s.setting, before === undefined || before === s.text ? [s.text] : [before, s.text]);
    }
    if (this.target && !this.target.lost) {
      if (s.setting?.includes('.')) this.customSettingOnTarget = true;
      this.target.request(queryMessage(s.text), new Collect());
      if (touchesReadOnly(s.setting)) this.target.request(READ_ONLY_DEFAULT, new Collect());
    }
  }

  /**
   * SQL PREPARE, EXECUTE and DEALLOCATE share one namespace with the
   * protocol's named statements, which the proxy defines lazily on either
   * side: a PREPARE of a name the client Parsed is sent after that Parse
   * reached the source, so the source refuses it (42P05) as PostgreSQL would
   * have; an EXECUTE or DEALLOCATE of it (psycopg 3 evicts its prepared
   * statements by SQL DEALLOCATE) finds it there, where a read's Parse may
   * only have reached the target (26000 before).
   */
  private noteSqlPrepared(c: Classification): void {
    for (const st of c.statements) {
      const named = st.prepares ?? st.executes ?? (st.deallocates !== '*' ? st.deallocates : undefined);
      if (named !== undefined && this.statements.has(named)) this.ensureOn(this.source, new Set([named]));
      else if (st.prepares) this.sqlPrepared.add(st.prepares);
      if (st.deallocates === '*') this.sqlPrepared.clear();
      else if (st.deallocates) this.sqlPrepared.delete(st.deallocates);
    }
  }

  /** State a request leaves on the source alone: the session's reads stay there from now on. */
  private noteSourceOnly(c: Classification): void {
    for (const st of c.statements) {
      if (st.lifts) this.liftsSet = true;
      if (st.encodes) this.encodingSet = true;
      for (const name of st.tempCreates ?? []) this.tempRelations.add(name);
      // (a renamed relation's old name is kept: a Parse is noted before its kind is asked, and a permanent table
      // that name may reach later is refused on the source by the event trigger)
      if (st.newName && st.alters?.every((n) => this.tempRelations.has(n))) this.tempRelations.add(st.newName);
      if (st.sourceOnly && !this.sourceOnly) {
        this.sourceOnly = st.sourceOnly;
        this.ctx.log.debug({ reason: st.sourceOnly }, 'session state the target cannot share: this session reads from the source from now on');
      }
    }
  }

  /**
   * A request's kind, a DROP, ALTER or CREATE INDEX of the session's own temporary relations being no schema
   * change (a name that is in fact a permanent table's is still refused on the source, by the event trigger).
   */
  private kindOf(c: Classification): Kind {
    if (c.kind !== 'ddl') return c.kind;
    const ddl = c.statements.filter((st) => st.kind === 'ddl');
    const own = (names: string[] | undefined) => Boolean(names?.length && names.every((n) => this.tempRelations.has(n)));
    if (!ddl.every((st) => own(st.drops ?? st.alters))) return c.kind;
    return c.statements.some((st) => st.kind === 'write') ? 'write' : 'session';
  }

  // ---- routing ----

  private get mirroring(): boolean {
    return Boolean(this.guard) && this.ctx.live.mirroringActive;
  }

  /** A read of a materialized view or a sequence: the other database's copy is not kept current. */
  private namesUnmirrored(c: Classification): boolean {
    return Boolean(c.relations && this.ctx.unmirrored?.(c.relations));
  }

  private routeOf(kind: Kind, pinned: Route | null, inTxn: boolean, system = false): Route {
    return route({ kind, pinned, session: this.sourceOnly || (kind === 'read' && this.settingsUnsettled()) ? 'source' : this.ctx.sessionRoute, inTransaction: inTxn, targetAvailable: Boolean(this.ctx.openSide && this.guard?.readsAllowed), system }, this.ctx.live);
  }

  /**
   * DDL let through while mirroring (allowDdl): a verify pass is taken back, and reads naming any relation stay
   * on the source until the relations capture covers are read again, after the transaction holding the DDL
   * ended on the source (a table it made has no capture; its copy on the new database is not kept current).
   */
  private ddlLetThrough(): void {
    this.ctx.live.schemaChanged();
    if (this.schemaSettling || !this.ctx.schemaChanging) return;
    const settle = this.ctx.schemaChanging();
    this.schemaSettling = true;
    this.source.onIdleStatus(() => {
      this.schemaSettling = false;
      settle();
    });
  }

  /** `largeObjects`: what makes it DDL is a large-object write (classify.ts), told so. */
  private refuseDdl(kind: Kind, largeObjects = false): boolean {
    if (kind !== 'ddl' || !this.mirroring) return false;
    if (this.ctx.allowDdl) {
      this.ddlLetThrough();
      return false;
    }
    this.refuse(ddlRefusal(largeObjects));
    return true;
  }

  /** A request refused with 0A000: inside a block, raised on the source by the refusal's Query. */
  private refuse({ query, message, hint }: Refusal): void {
    const slot = this.order.open();
    if (this.predicted !== I) {
      // inside a transaction block an error aborts the transaction, as the client expects of PostgreSQL: the
      // refusal is raised on the source itself, so its transaction fails (E) and only ROLLBACK ends it; a block
      // that had already failed answers 25P02, as PostgreSQL would
      this.predicted = E;
      this.source.request(query, new Forward(slot, this));
      return;
    }
    slot.write(errorResponse({ severity: 'ERROR', code: '0A000', message, hint }));
    slot.write(readyForQuery('I'));
    slot.end();
  }

  /**
   * `chained`: the last of `ops` is COMMIT/ROLLBACK AND CHAIN, which leaves a new transaction open (after a failed
   * one too: it rolls back and chains); outside a transaction block it is an error, and the session stays idle.
   */
  private predictFrom(ops: string[], chained = false): void {
    let before = this.predicted;
    for (const op of ops) {
      before = this.predicted;
      if (op === 'begin') this.predicted = T;
      else if (op === 'commit' || op === 'rollback' || op === 'prepare') this.predicted = I;
    }
    if (chained && before !== I) this.predicted = T;
  }

  private async ensureTarget(): Promise<BackendLink | null> {
    if (this.target && !this.target.lost) return this.target;
    if (!this.ctx.openSide) return null;
    this.targetOpening ??= (async () => {
      try {
        const side = this.sot === 'legacy' ? 'new' : 'legacy';
        const settings = readConnectionSettings((await this.ctx.readSettings?.(this.source, side)) ?? {});
        const opened = this.ctx.openReadSide ? await this.ctx.openReadSide(side, settings) : await this.ctx.openSide!(side);
        // the proxy has no connection to spare there now: the read runs on the source, and no fault is counted
        if (!opened) return null;
        const link = opened.link ?? new BackendLink('target', opened.stream);
        link.cancelKey = opened.cancel;
        this.parkAs = opened.key !== undefined ? { link, key: opened.key } : null;
        this.customSettingOnTarget = [...this.sessionLog.keys()].some((k) => k.includes('.'));
        for (const sql of this.replayed()) link.request(queryMessage(sql), new Collect());
        link.request(READ_ONLY_DEFAULT, new Collect());
        for (const p of this.statements.values()) p.on.delete('target');
        // settings a function made, given to the read connection before: this one has only the SETs
        if (this.verifiedOn) this.unverified = true;
        this.target = link;
        this.wireLinks();
        if (opened.lease) {
          this.targetLease = opened.lease;
          // taken back while idle for a session that has reads to route; opened again when this one next needs it
          opened.lease.reclaim = () => {
            if (this.target !== link || link.pending > 0 || this.closed) return false;
            link.destroy();
            return true;
          };
        }
        if (this.backlogged) {
          // opened for a request already on its way while the client is not reading: it waits with the others
          link.stopReading('client');
          this.backlogged.links.push(link);
        }
        return link;
      } catch (e) {
        if (e instanceof TargetRoleUnavailable) {
          this.sourceOnly = e.message;
          this.ctx.log.warn({ reason: e.message }, 'reads of this session stay on the source');
        } else this.guard?.sessionFailed(`cannot open a target session: ${(e as Error).message}`);
        return null;
      } finally {
        this.targetOpening = null;
      }
    })();
    return this.targetOpening;
  }

  /** A request that calls a function the proxy does not know, or writes a table with triggers or rules of the user's. */
  private runsUserCode(c: Classification): boolean {
    return Boolean(c.callsFunctions || (c.writes && this.ctx.fires?.(c.writes)));
  }

  /** A function the proxy does not know ran (or will run) on the source: see `unverified`. */
  private noteFunctionCall(): void {
    // an SQLite source has no functions of the user's, and could not answer the question
    if (!this.sourceOnly && !(this.sot === 'legacy' && this.ctx.sqliteLegacy)) this.unverified = true;
  }

  /** The read connection, once it shares what functions did to the session; null: the read runs on the source. */
  private async readyTarget(): Promise<BackendLink | null> {
    const target = await this.ensureTarget();
    if (!target || !this.unverified) return target;
    return (await this.verifySession(target)) ? target : null;
  }

  /**
   * After a function the proxy does not know: the source session is asked, in
   * one round trip behind what the session sent, whether it now has temporary
   * relations (they may hide mirrored tables of the same name: its reads stay
   * on the source from now on, as after DO or CALL) and which settings it has
   * made (SET in a function body lasts for the session, as set_config(…, false)
   * does). Settings that changed since the read connection was last given them
   * are given again, before the read. The question runs outside any transaction
   * of the client's (reads are routed only there), and its answer goes to no one.
   */
  private async verifySession(target: BackendLink): Promise<boolean> {
    this.unverified = false;
    const probe = new Collect();
    this.source.request(SESSION_PROBE, probe);
    try {
      await probe.done;
    } catch {
      return false;
    }
    const row = probe.rows[0];
    if (probe.error || !row) {
      // the source could not say (a transaction it failed meanwhile): asked again before the next read
      this.unverified = true;
      return false;
    }
    if (row[0] === 't') return this.keepOnSource('temporary relations made by a function');
    if (row[1] === 't') return this.keepOnSource('role changed by a function');
    const now = new Map<string, string>();
    for (const [name, value] of JSON.parse(row[2] ?? '[]') as [string, string][]) if (!READ_ONLY_SETTINGS.has(name.toLowerCase())) now.set(name, value);
    const before = this.verifiedOn === target ? this.verified : new Map<string, string>();
    const changed: [string, string | null][] = [];
    for (const [name, value] of now) if (before.get(name) !== value) changed.push([name, value]);
    for (const name of before.keys()) if (!now.has(name)) changed.push([name, null]);
    if (changed.length) {
      const json = JSON.stringify(changed.map(([n, v]) => ({ n, v })));
      if (json.includes('$cutover$')) return this.keepOnSource('a setting the proxy cannot quote');
      if (changed.some(([n]) => n.includes('.'))) this.customSettingOnTarget = true;
      const given = new Collect();
      target.request(queryMessage(`SELECT pg_catalog.set_config(s.n, coalesce(s.v, (SELECT r.reset_val FROM pg_catalog.pg_settings r WHERE r.name = s.n)), false) FROM pg_catalog.json_to_recordset($cutover$${json}$cutover$) AS s(n text, v text)`), given);
      try {
        await given.done;
      } catch {
        return false;
      }
      if (given.error) return this.keepOnSource('a setting made by a function that the new database does not take');
    }
    this.verified = now;
    this.verifiedOn = target;
    return true;
  }

  private keepOnSource(reason: string): false {
    this.sourceOnly ??= reason;
    this.ctx.log.debug({ reason }, 'session state the target cannot share: this session reads from the source from now on');
    return false;
  }

  /** A read on the target, held until complete; the source answers instead if the target failed. */
  private async routedRead(msgs: Message[], replays: Buffer[], referenced = new Set<string>(), definedHere = new Set<string>()): Promise<void> {
    const slot = this.order.open();
    const target = this.target && !this.target.lost && !this.unverified ? this.target : await this.readyTarget();
    if (target) {
      if (this.targetLease) this.targetLease.used = Date.now();
      // given up on (it failed, or it was too slow): the target's answer, if it still comes, is dropped
      let dropped = false;
      const oids = this.ctx.oids;
      const other: Side = this.sot === 'legacy' ? 'new' : 'legacy';
      const hold = new HoldAll({ limit: HELD_READ_LIMIT, start: (held) => (dropped ? null : streamInto(slot, held)) }, oids && ((b) => oids.translate(b, other, this.sot)));
      const started = process.hrtime.bigint();
      const cancels = this.cancels;
      if (replays.length) target.request([...replays, SYNC], new Collect());
      target.request(msgs.map((m) => m.bytes), hold);
      this.payOwedCancel(target);
      let missing: string | null = null;
      // the guard counted this read's failure already: a loss found later is not a second error of one request
      let failed = false;
      try {
        await this.guard!.read(async () => {
          await hold.decided;
          // past HELD_READ_LIMIT the answer is on its way to the client: the source can no longer answer instead
          if (hold.spilled) return;
          const outcome = await hold.done;
          // described in objects the source of truth's numbering has no match for: its own answer instead, no fault of the target's
          if (hold.unusable && !outcome.lost) return;
          const cancelled = outcome.error === '57014' && this.cancels !== cancels;
          if (outcome.error && !outcome.lost && (isMissingObject(outcome.error) || isProtocolMisuse(outcome.error) || outcome.error === HIDDEN_WRITE)) {
            // retried on the source, counted against the target only if the source has what it named, or
            // refuses the client's messages alike (a write the text hid, refused by the read-only connection,
            // is no fault: read-only-target.ts)
            missing = outcome.error;
            return;
          }
          const fault = outcome.lost ?? (outcome.error && !cancelled && isTargetFault(outcome.error) ? `target error ${outcome.error}` : null);
          if (fault) throw new Error(fault);
        }, target.cancelKey?.pid, this.stalled);
        if (hold.unusable) {
          // a table or type made since the catalogs were read: read them again, and the held answer may do
          // (one with an error is not judged here: the source answers it)
          const outcome = await hold.done;
          if (!outcome.lost && !outcome.error && !hold.hopeless) {
            await oids?.missed();
            hold.retranslate();
          }
        }
        if (!hold.unusable && !missing && !hold.spilled) {
          recordRead('target', started);
          for (const b of hold.messages) slot.write(b);
          slot.end();
          this.alsoOnSource(definedHere);
          return;
        }
      } catch (e) {
        failed = true;
        this.ctx.log.debug({ reason: (e as Error).message }, 'routed read retried on the source');
      }
      if (hold.spilled && !dropped) return this.streamedRead(hold, slot, started, failed);
      dropped = true;
      mirrorMetrics.fallbacks.inc();
      if (missing) {
        this.ensureOn(this.source, referenced);
        this.markDefined(this.source, definedHere);
        const f = new Forward(slot, this);
        this.source.request(msgs.map((m) => m.bytes), f);
        await f.failed;
        if (missing !== HIDDEN_WRITE && f.errorCode !== missing) this.guard?.targetFailed(`target error ${missing}, which the source did not give`);
        return;
      }
    }
    this.ensureOn(this.source, referenced);
    this.markDefined(this.source, definedHere);
    this.source.request(msgs.map((m) => m.bytes), new Forward(slot, this));
    this.payOwedCancel(this.source);
  }

  /**
   * Named statements a routed read made on the target, parsed on the source too, behind it. Parsed there only when
   * the client binds one on the source, a statement could not be made once the client's transaction block had
   * failed (a Parse there is refused, 25P02): the client's Bind met no statement (26000) where PostgreSQL answers
   * 25P02, or 08P01 for parameters that do not fit. A named statement is parsed once and bound many times, so
   * this is one Parse more per name; the unnamed one, parsed for nearly every read, is left to be parsed again
   * when needed.
   */
  private alsoOnSource(names: Set<string>): void {
    const parses: Buffer[] = [];
    for (const name of names) {
      const p = this.statements.get(name);
      if (name === '' || !p || !p.on.has('target') || p.on.has('source')) continue;
      parses.push(p.parse);
      this.defined(p, this.source);
    }
    if (parses.length) this.source.request([...parses, SYNC], new Collect());
  }

  /** The routed read has been sent on `link`: a cancel the client sent before that goes there now. */
  private payOwedCancel(link: BackendLink): void {
    this.readPending = null;
    if (!this.owedCancel) return;
    this.owedCancel = false;
    if (!link.cancelKey) return;
    // the read leaves first: a server that is idle when a cancel arrives ignores it
    link.flush();
    sendCancel(link.cancelKey);
  }

  /**
   * The rest of a routed read that outgrew HELD_READ_LIMIT, streamed as it
   * comes. If the target goes away midway the client gets the error a server
   * gives when it dies mid-result, and the session goes on (outside a
   * transaction: nothing of its state is lost).
   */
  private async streamedRead(hold: HoldAll, slot: Slot, started: bigint, counted: boolean): Promise<void> {
    const outcome = await hold.done;
    if (outcome.lost) {
      if (!counted) this.guard?.targetFailed(`the target was lost during a read: ${outcome.lost}`);
      slot.write(errorResponse({ severity: 'ERROR', code: '08006', message: 'lost connection to the new database during a read; run it again' }));
      slot.write(readyForQuery('I'));
    } else recordRead('target', started);
    slot.end();
  }

  // ---- shadow reads ----

  private shouldShadow(kind: Kind, inTxn: boolean): boolean {
    // a session with state the target cannot share (sourceOnly) would only count false mismatches
    return kind === 'read' && !inTxn && this.ctx.shadowSample > 0 && !this.sourceOnly && this.mirroring && Boolean(this.guard?.readsAllowed) && Math.random() < this.ctx.shadowSample;
  }

  /** The client gets the source's answer; the target's is compared with it, and re-read once on a mismatch. */
  private async shadowRead(msgs: Message[], ordered: Order, referenced: Set<string>, definedHere: Set<string>, text: string): Promise<void> {
    const slot = this.order.open();
    const target = await this.readyTarget();
    this.ensureOn(this.source, referenced);
    this.markDefined(this.source, definedHere);
    // an answer past HELD_READ_LIMIT is not compared: the source's streams on to the client, the target's is dropped
    const fromSource = new HoldAll({ limit: HELD_READ_LIMIT, start: (held) => streamInto(slot, held) });
    fromSource.forClient = true;
    const started = process.hrtime.bigint();
    this.source.request(msgs.map((m) => m.bytes), fromSource);
    void fromSource.done.then((o) => o.lost || o.error || recordRead('source', started));
    if (!target) {
      await fromSource.done;
      for (const b of fromSource.messages) slot.write(b);
      slot.end();
      return;
    }
    if (this.targetLease) this.targetLease.used = Date.now();
    const replays = this.replaysFor(target, new Set([...referenced, ...definedHere]));
    if (replays.length) target.request([...replays, SYNC], new Collect());
    const fromTarget = new HoldAll(DROP_PAST_LIMIT);
    target.request(msgs.map((m) => m.bytes), fromTarget);
    void fromTarget.done.then((o) => o.lost || o.error || recordRead('target', started));
    const s = await fromSource.done;
    for (const b of fromSource.messages) slot.write(b);
    slot.end();
    if (!s.lost) void this.compareShadow(target, msgs, ordered, fromSource, fromTarget, text);
  }

  private async compareShadow(target: BackendLink, msgs: Message[], ordered: Order, fromSource: HoldAll, fromTarget: HoldAll, text: string): Promise<void> {
    const t = await fromTarget.done;
    if (t.lost || t.error || fromSource.spilled || fromTarget.spilled) return;
    if (sameDigest(digest(fromSource.messages, ordered), digest(fromTarget.messages, ordered))) {
      recordShadow('match');
      return;
    }
    // rows may have changed between the two reads: read both again before it counts
    const again = [new HoldAll(DROP_PAST_LIMIT), new HoldAll(DROP_PAST_LIMIT)] as const;
    this.source.request(msgs.map((m) => m.bytes), again[0]);
    target.request(msgs.map((m) => m.bytes), again[1]);
    const [a, b] = await Promise.all([again[0].done, again[1].done]);
    if (a.lost || b.lost || again[0].spilled || again[1].spilled) return;
    if (sameDigest(digest(again[0].messages, ordered), digest(again[1].messages, ordered))) {
      recordShadow('recovered');
      return;
    }
    recordShadow('mismatch');
    this.ctx.log.warn({ query: text.slice(0, 200) }, 'shadow read mismatch between source and target');
  }

  // ---- mirroring ----

  private forward(link: BackendLink, msgs: Message[], onError?: () => void): Forward {
    const f = new Forward(this.order.open(), this, onError);
    link.request(msgs.map((m) => m.bytes), f);
    return f;
  }

  /** BEGIN; the client's request; drain; apply to the mirror; COMMIT — then the client's answer. */
  private async wrapAutocommit(msgs: Message[], copies: boolean, call = false): Promise<void> {
    this.source.request(queryMessage('BEGIN'), new Collect());
    return this.finishWrapped(msgs, copies, call ? { referenced: new Set(), definedHere: new Set() } : undefined);
  }

  /** The client's request inside our transaction, then drain, apply, COMMIT, and only then its answer. */
  private async finishWrapped(msgs: Message[], copies: boolean, call?: RunAgain): Promise<void> {
    const slot = this.order.open();
    const hold = new WriteHold(slot, this, call !== undefined);
    this.source.request(msgs.map((m) => m.bytes), hold);
    if (!call) letGoOfLarge(msgs);
    // pipelined behind the request: if the request fails, the drain fails harmlessly (25P02). Not behind
    // a COPY: copying in, the server would take the drain for a message of the COPY and end the session.
    let drain = copies ? null : this.requestDrain();
    const status = await hold.done;
    if (status === null) return; // source lost: the session is ending
    if (status !== T) {
      // the request failed (or ended the transaction itself): undo our BEGIN, pass its answer on
      await drain?.done.catch(() => undefined);
      drain?.release();
      const rb = new Collect();
      this.source.request(queryMessage('ROLLBACK'), rb);
      await rb.done.catch(() => undefined);
      if (call && hold.errorCode === '2D000') return this.callCommitting(msgs, slot, call);
      hold.release(I);
      return;
    }
    drain ??= this.requestDrain();
    const failed = await this.commitOwn(drain);
    if (failed === LOST) return;
    if (failed) hold.fail(failed, I, msgs[0]?.type === 0x51 ? 'all-but-last' : 'all');
    else hold.release(I);
  }

  /**
   * A procedure that ends transactions itself (COMMIT inside CALL) cannot run
   * in the proxy's transaction: it failed there (2D000, all of it rolled back)
   * and runs again as the client sent it. Its commits leave their changes to
   * the drainer; the client's answer waits until the drainer has mirrored
   * them, and reads wait on the source meanwhile.
   */
  private async callCommitting(msgs: Message[], slot: Slot, again: RunAgain): Promise<void> {
    // the first run parsed the segment's named statements (Parse again would be 42P05) and our
    // ROLLBACK, a Query, dropped the unnamed one: closed and parsed again, as the client sent them
    const named = [...again.definedHere].filter((n) => n !== '');
    if (named.length) this.source.request([...named.map((n) => closeMessage('S', n)), SYNC], new Collect());
    this.ensureOn(this.source, again.referenced);
    const all = new HoldAll();
    all.forClient = true;
    this.source.request(msgs.map((m) => m.bytes), all);
    const outcome = await all.done;
    if (outcome.lost) {
      slot.end();
      return;
    }
    await this.guard?.untilDrained('a procedure committed on its own');
    for (const b of all.messages) slot.write(b);
    slot.end();
  }

  /**
   * The proxy's own transaction ended: its drained changes applied to the
   * mirror, then COMMIT on the source. Null once committed; else the error
   * the client gets instead of its acknowledgement (the applied keys marked
   * dirty); LOST when the source went away.
   */
  private async commitOwn(drain: DrainCollect): Promise<Buffer | null | typeof LOST> {
    const applied = await this.applyDrained(drain);
    const commit = new Collect();
    this.source.request(queryMessage('COMMIT'), commit);
    try {
      await commit.done;
    } catch {
      if (applied.length) await this.commitRefused(applied);
      return LOST;
    }
    // COMMIT answering ROLLBACK: our drain failed inside the transaction (capture removed under it); never acknowledge that
    if (!commit.error && commit.tag !== 'ROLLBACK') return null;
    // unless the drain failed for the transaction being read-only by a default the proxy cannot see
    // (default_transaction_read_only): the request (a volatile function such as setseed()) wrote nothing
    if (!commit.error && !applied.length && drain.error && parseErrorFields(drain.error.bytes.subarray(5)).C === '25006') return null;
    if (applied.length) await this.commitRefused(applied);
    return commit.error?.bytes ?? drainFailure(drain.error, 'write');
  }

  /** The client's COMMIT, after its transaction's changes reached the mirror. */
  private async commitWithMirror(msgs: Message[], chained = false): Promise<void> {
    await this.commitMirrored(msgs, chained);
    // COMMIT AND CHAIN opens the next transaction only if it committed (or rolled a failed one back): the source's
    // answer says which, and the requests that follow are wrapped, or not, by it
    if (chained) this.predicted = this.source.status;
  }

  private async commitMirrored(msgs: Message[], chained: boolean): Promise<void> {
    const a = this.ahead;
    await a.settled();
    if (this.txnReadOnly) {
      // a READ ONLY transaction wrote nothing, and the drain's DELETE would fail it (25006)
      a.end(true);
      await this.forward(this.source, msgs).failed;
      return;
    }
    let applied: Change[] = [];
    let failed = a.broken;
    let cause = a.brokenBy;
    this.dirtyRefused = null;
    if (!failed && a.clean) {
      // only reads since the drain-ahead: nothing left to drain, but a failed read fails the transaction
      await this.source.whenIdle();
      mirrorMetrics.drainAhead.inc();
      if (this.source.status === T) {
        if (this.liftSettings()) this.drains.lift(this.source, this.ctx.capture(this.sot));
        applied = await this.applyTaken(a.changes);
      }
    } else if (!failed) {
      const drain = this.requestDrain();
      applied = await this.applyDrained(drain, a.changes);
      failed = drainFailed(drain);
      cause = drain.error;
    }
    if (!failed && this.dirtyRefused) {
      failed = true;
      cause = this.dirtyRefused;
    }
    a.end(!failed);
    if (failed) {
      // The drain's error aborted the transaction, so its COMMIT answers ROLLBACK with no error,
      // which clients take for success: the client gets the reason instead.
      if (cause && parseErrorFields(cause.bytes.subarray(5)).C === '25006') {
        // read-only by a default the proxy cannot see (default_transaction_read_only, a role's or database's
        // setting): nothing was written, and the COMMIT's own answer (ROLLBACK: the drain aborted it) is true
        await this.forward(this.source, msgs).failed;
        return;
      }
      const hold = new WriteHold(this.order.open(), this);
      this.source.request(msgs.map((m) => m.bytes), hold);
      if ((await hold.done) === null) return;
      hold.fail(drainFailure(cause), I);
      // the client is told its COMMIT failed, so no transaction follows it; AND CHAIN opened one on the source
      if (chained && this.source.status !== I) await this.internalQuery('ROLLBACK');
      return;
    }
    // a refusal must hold reads before the client sees it: it may read next on another connection
    let resync: (() => void) | undefined;
    const f = this.forward(this.source, msgs, applied.length ? () => (resync = this.refusalHold(applied)) : undefined);
    const commitFailed = await f.failed;
    if (commitFailed && applied.length) await this.commitRefused(applied, resync);
  }

  // ---- drain-ahead (mirror/drain-ahead.ts) ----

  /** Before a request inside a transaction: what it means for the rows drained ahead (a promise only when drained rows must be put back first). */
  private aheadBefore(step: AheadStep, id: number): Promise<void> | undefined {
    const a = this.ahead;
    if (step === 'read' || step === 'commit') return undefined;
    if (step === 'rollback') {
      a.end(false);
      return undefined;
    }
    a.clean = false;
    a.noteWrite(id);
    if (step !== 'other') return undefined;
    a.off = true;
    return this.restoreAhead();
  }

  /** Behind a write sent just now: the drain, if the write is expected to be the transaction's last. */
  private maybeDrainAhead(id: number): void {
    const a = this.ahead;
    const dialect = this.ctx.capture(this.sot);
    if (a.off || a.broken || !dialect.restoreSql || !dialect.preparedDrain || !lastWrites.isLast(id)) return;
    const drain = this.requestDrain(true);
    const generation = a.generation;
    a.track(drain.done.then(
      () => {
        if (a.generation !== generation) return; // the transaction ended (ROLLBACK) meanwhile
        if (drain.error) {
          // 25P02: the write failed, so does the transaction; anything else failed it here
          if (parseErrorFields(drain.error.bytes.subarray(5)).C !== '25P02') a.brokenBy = drain.error;
          return;
        }
        for (const c of changesOf(drain.taken)) a.changes.push(c);
        const limit = dialect.drainLimit;
        if (limit !== undefined && a.changes.length > limit) a.off = true;
      },
      () => undefined,
    ));
  }

  /**
   * The rows drained ahead back into the change table, in the same
   * transaction and order, for a request the relay handles without them
   * (pipelined ahead of it; if that fails, the transaction fails with it).
   */
  private async restoreAhead(): Promise<void> {
    const a = this.ahead;
    await a.settled();
    const changes = a.changes;
    a.changes = [];
    if (!changes.length) return;
    const dialect = this.ctx.capture(this.sot);
    const limit = dialect.drainLimit;
    if (limit !== undefined && changes.length > limit) {
      // as at a bulk transaction's COMMIT: its keys are re-synced by the drainer
      await this.markDirty(changes, bulkReason(limit), true);
      return;
    }
    const put = new Collect();
    this.source.request(queryMessage(this.inSessionEncoding(dialect.restoreSql!(changes))), put);
    void put.done.then(
      () => {
        if (put.error) this.ctx.log.error({ reason: parseErrorFields(put.error.bytes.subarray(5)).M }, 'could not put drained change rows back; the transaction fails');
      },
      () => undefined,
    );
  }

  /** A transaction ended by a way the relay did not follow after a drain-ahead: its keys are re-synced. */
  private async aheadLeftAtBoundary(): Promise<void> {
    const a = this.ahead;
    await a.settled();
    const left = a.changes;
    a.end(false);
    if (left.length) await this.markDirty(left, 'a transaction ended unseen after its changes were drained; re-syncing its keys', false);
  }

  /**
   * A request with transaction control among other statements, run on the
   * source piece by piece (txn-split.ts) so that every COMMIT goes out only
   * after its transaction's changes reached the mirror. Where the server would
   * run statements in its implicit transaction, the proxy's own stands in and
   * is committed the same way. The client gets the answer the server gives for
   * the whole request: the pieces' messages, the first error ending it, one
   * ReadyForQuery.
   */
  private async runSplit(pieces: Piece[], opts: { standIn: boolean; reparse: Set<string>; flushedFailed: boolean } = { standIn: false, reparse: new Set(), flushedFailed: false }): Promise<void> {
    const slot = this.order.open();
    // standIn: a segment a Flush sent after our BEGIN
    let status = opts.standIn ? T : this.predicted;
    // while the stand-in transaction is open its answers wait: nothing in it is committed yet
    let held: Buffer[] | null = opts.standIn ? [] : null;
    // a simple Query drops the unnamed statement (PostgreSQL's exec_simple_query): ours come between the pieces
    const unnamedGone = (): void => void this.statements.get('')?.on.delete('source');
    // PostgreSQL reports the settings a request changed once, by name, just before its ReadyForQuery (since 14),
    // not after each piece: each piece's reports wait for the last, the latest of each name kept
    const reports = new Map<string, Buffer>();
    // what the client was last told of each setting reported: the source's last report before this one (all
    // it answered before was forwarded)
    const told = new Map<string, string | undefined>();
    // those of the stand-in transaction count only if it commits (or the client's BEGIN takes it over)
    const heldReports = new Map<string, Buffer>();
    const out = (b: Buffer): void => {
      if (b[0] === 0x53 /* S */) {
        const name = b.toString('latin1', 5, b.indexOf(0, 5)).toLowerCase();
        if (!told.has(name)) told.set(name, this.source.reported.get(name));
        (held ? heldReports : reports).set(name, b);
      }
      else if (held) held.push(b);
      else slot.write(b);
    };
    const release = (dropTags: boolean, kept = false): void => {
      for (const b of held ?? []) if (!dropTags || b[0] !== 0x43) slot.write(b);
      held = null;
      if (kept) for (const [name, b] of heldReports) reports.set(name, b);
      heldReports.clear();
    };
    let failed = false;
    const sent = new Set<Piece>();
    // the block a COMMIT piece ends was begun READ ONLY: nothing to drain, and the drain's DELETE would fail it
    // (25006). Known for a block begun before this request only if the request begins none of its own.
    let readOnly = status === T && this.txnReadOnly && !pieces.some((p) => p.txn === 'begin');
    for (const p of pieces) {
      if (p.txn === 'begin') readOnly = this.beginsReadOnly(p);
      const refusal = this.refusalOf(p, held !== null);
      if (refusal) {
        out(refusal);
        failed = true;
        if (p.txn === 'prepare' && status !== I) {
          // a PREPARE TRANSACTION that fails is a ROLLBACK
          await this.internalQuery('ROLLBACK', out);
          unnamedGone();
          release(false);
          status = I;
        } else if (p.ddl && held === null && status === T) {
          // refused inside the client's own transaction block: the block fails on the source too, as on any error
          await this.internalQuery(ddlRefusal(p.largeObjects).inBlock, out);
          unnamedGone();
          status = E;
        }
        break;
      }
      if (p.txn === null && status === I && !p.continues) {
        this.source.request(queryMessage('BEGIN'), Collect.reporting(out));
        unnamedGone();
        held = [];
      }
      let applied: Change[] = [];
      let broke: Message | null = null;
      let resync: (() => void) | undefined;
      if (p.txn === 'commit' && status === T && !readOnly) {
        const drain = this.requestDrain();
        unnamedGone();
        applied = await this.applyDrained(drain);
        if (drainFailed(drain)) broke = drain.error;
      }
      const again = p.binds.filter((n) => opts.reparse.has(n) && !this.statements.get(n)?.on.has('source'));
      if (again.length) this.ensureOn(this.source, new Set(again));
      const ends = p.txn === 'commit' || p.txn === 'rollback';
      const run = new PieceRun(out, this, {
        // the client's BEGIN takes the stand-in over silently, as the server's converts its implicit transaction
        quiet: held && p.txn === 'begin' ? '25001' : null,
        // the server warns when COMMIT/ROLLBACK ends its implicit transaction; ending the stand-in does not
        warn: held && ends ? errorResponse({ severity: 'WARNING', code: '25P01', message: 'there is no transaction in progress' }, 'N') : null,
        failWith: broke ? drainFailure(broke) : null,
        // a refusal must hold reads before the client sees it: it may read next on another connection
        onFailed: p.txn === 'commit' && applied.length ? () => (resync = this.refusalHold(applied)) : undefined,
      });
      this.source.request(p.bytes, run);
      sent.add(p);
      const r = await run.done;
      if (r === null) {
        // the source went away: whether this COMMIT happened is unknown, the mirror has its changes
        if (p.txn === 'commit' && applied.length) await this.commitRefused(applied, resync);
        slot.end();
        return;
      }
      this.markDefined(this.source, new Set(p.parses));
      status = r.status;
      if (p.txn === 'commit' && applied.length && (r.error || r.tag === 'ROLLBACK')) {
        await this.commitRefused(applied, resync);
        unnamedGone();
      }
      // (a BEGIN that fails, as one with an isolation level after a statement, takes nothing over: the server
      // ends its converted block at the error, so the stand-in is rolled back below, and the client is told 'I')
      const takenOver = p.txn === 'begin' && !r.error;
      if (held && (takenOver || ends)) release(p.txn === 'commit' && r.error, takenOver || (p.txn === 'commit' && !r.error && r.tag !== 'ROLLBACK'));
      // the server skips the rest of a segment up to its Sync after an error, also one the Flush's part met
      if (r.error || (p.continues && (opts.flushedFailed || r.status === E))) {
        failed = true;
        break;
      }
    }
    // the statements of pieces never sent (skipped after an error, as the server skips them) were never made
    for (const p of pieces) {
      if (sent.has(p)) continue;
      for (const name of p.parses) {
        const rec = this.statements.get(name);
        if (rec && !rec.on.size) this.parsed(this.source, rec.parse, 'skipped');
      }
    }
    if (held) {
      unnamedGone();
      if (failed || status !== T) {
        // an error ends the server's implicit transaction too
        await this.internalQuery('ROLLBACK', out);
        release(false);
      } else {
        const failed = await this.commitOwn(this.requestDrain());
        if (failed === LOST) {
          slot.end();
          return;
        }
        release(failed !== null, failed === null);
        if (failed) slot.write(failed);
      }
      status = I;
    }
    this.predicted = status;
    // in the server's order: its settings' (case-insensitive) name order; none for a setting back at the value
    // the client was last told (set and undone by an error or a ROLLBACK in the request), as the server sends none
    for (const name of [...reports.keys()].sort()) {
      const b = reports.get(name)!;
      const r = new BodyReader(b);
      r.cstring();
      if (told.get(name) !== r.cstring()) slot.write(b);
    }
    slot.write(readyForQuery(String.fromCharCode(status) as 'I'));
    slot.end();
  }

  /** Whether a BEGIN piece begins a READ ONLY transaction (its text, or the statement it binds). */
  private beginsReadOnly(p: Piece): boolean {
    const q = p.bytes[0];
    const cls = q?.[0] === 0x51 ? classify(new BodyReader(q).cstring()) : this.statements.get(p.parses[0] ?? p.binds[0] ?? '')?.cls;
    return Boolean(cls?.statements[0]?.readOnly);
  }

  /** A piece the proxy answers with an error instead of running it. */
  private refusalOf(p: Piece, standIn: boolean): Buffer | null {
    if (p.ddl && !this.ctx.allowDdl) {
      const { message, hint } = ddlRefusal(p.largeObjects);
      return errorResponse({ severity: 'ERROR', code: '0A000', message, hint });
    }
    if (p.ddl) this.ddlLetThrough();
    // the prepared transaction would commit later, without the proxy, its changes not on the mirror at its acknowledgement
    if (p.txn === 'prepare') return errorResponse({ severity: 'ERROR', code: '0A000', message: PREPARE_REFUSAL.message, hint: PREPARE_REFUSAL.hint });
    // the server refuses these in its implicit transaction; the stand-in is a real one, so say it here
    const what = p.txn === 'savepoint' ? 'SAVEPOINT' : p.txn === 'release' ? 'RELEASE SAVEPOINT' : p.txn === 'rollback_to' ? 'ROLLBACK TO SAVEPOINT' : null;
    if (standIn && what) return errorResponse({ severity: 'ERROR', code: '25P01', message: `${what} can only be used in transaction blocks` });
    return null;
  }

  /** `reports`: where the reports of settings it changes go (a split request's own, which it sends in order). */
  private async internalQuery(sql: string, reports?: (b: Buffer) => void): Promise<void> {
    const c = reports ? Collect.reporting(reports) : new Collect();
    this.source.request(queryMessage(sql), c);
    await c.done.catch(() => undefined);
  }

  /** The drain of the open transaction; `ahead`: a drain-ahead, whose rows wait for the client's COMMIT (not held to drainBudget). */
  private requestDrain(ahead = false): DrainCollect {
    // asked first: either may send a request of its own (the session's start-up settings) ahead of the drain
    const lift = this.liftSettings();
    const notUtf8 = !this.readsUtf8();
    const at = this.source.answered + this.source.pending;
    const drain = this.drains.request(this.source, this.ctx.capture(this.sot), ahead, lift, notUtf8);
    this.drainsAt.add(at);
    const answered = () => void this.drainsAt.delete(at);
    drain.done.then(answered, answered);
    return drain;
  }

  /**
   * Whether the proxy's statements in this transaction (the drain, the wait
   * while the mirror applies) need settings of their own: the session's
   * timeouts lifted, and under SERIALIZABLE a drain that reads only its own
   * rows (CaptureDialect.untimed). Not when the source said the session
   * starts with neither (pg_settings.reset_val, asked once per start-up and
   * cached: ctx.readSettings) and the client has set neither since: such a
   * session is spared the statements.
   */
  private liftSettings(): boolean {
    if (this.liftsSet || this.sourceOnly || this.liftsAtStart === true) return true;
    if (this.liftsAtStart === false) return false;
    if (!this.liftsAsked && this.ctx.readSettings) {
      this.liftsAsked = true;
      // asked on the source now, inside this transaction (its answer does not depend on it); lifted until answered
      void this.ctx.readSettings(this.source, this.sot === 'legacy' ? 'new' : 'legacy').then((s) => {
        const st = s.statement_timeout;
        const idle = s.idle_in_transaction_session_timeout;
        const isolation = s.default_transaction_isolation;
        if (st !== undefined && idle !== undefined && isolation !== undefined) this.liftsAtStart = st !== '0' || idle !== '0' || isolation === 'serializable';
      }, () => undefined);
    }
    return true;
  }

  /** The drained changes, after any drained ahead, applied to the mirror; what was applied. */
  private async applyDrained(drain: DrainCollect, ahead: Change[] = []): Promise<Change[]> {
    try {
      return await this.applyDrainedRows(drain, ahead);
    } finally {
      drain.release();
    }
  }

  private async applyDrainedRows(drain: DrainCollect, ahead: Change[]): Promise<Change[]> {
    try {
      await drain.done;
    } catch {
      return [];
    }
    if (drain.error) {
      const f = parseErrorFields(drain.error.bytes.subarray(5));
      // 25P02: the transaction already failed and will roll back; nothing to mirror
      if (f.C !== '25P02') this.ctx.log.warn({ code: f.C, reason: f.M }, 'could not drain change rows; the drainer will pick them up');
      return [];
    }
    return this.applyTaken(drain.taken.length ? [...ahead, ...changesOf(drain.taken)] : ahead);
  }

  private async applyTaken(changes: Change[]): Promise<Change[]> {
    if (!changes.length) return [];
    const limit = this.ctx.capture(this.sot).drainLimit;
    if (limit !== undefined && changes.length > limit) {
      // a bulk transaction: what was taken goes back as dirty keys, the rest stays in the change table,
      // and the drainer brings the mirror up to date after the COMMIT (reads stay on the source meanwhile)
      await this.markDirty(changes, bulkReason(limit), true);
      return [];
    }
    const guard = this.guard!;
    try {
      await guard.apply(changes);
      return changes;
    } catch (e) {
      await this.markDirty(changes, (e as Error).message, true);
      return [];
    }
  }

  /**
   * Keys the mirror may have wrong: back into the change table as re-sync rows
   * (inside the transaction when it is still open, so they commit with it) for
   * the drainer, and reads stop going to the target at once.
   */
  private async markDirty(changes: Change[], reason: string, inTransaction: boolean): Promise<void> {
    this.guard?.dirty(changes.length, reason);
    await this.recordDirty(changes, inTransaction);
  }

  /**
   * The source answered the COMMIT with an error (a serialization failure, a
   * deferred constraint), or its connection was lost with the outcome unknown,
   * after the mirror had committed the transaction: its keys are re-synced, and
   * reads wait on the source until they are (TargetGuard.refused) instead of
   * tripping, since the target is healthy.
   */
  private async commitRefused(changes: Change[], resync = this.refusalHold(changes)): Promise<void> {
    await this.recordDirty(changes, false);
    // the mirror's ledger (drainer.ts) finds the same transactions uncommitted: not a proxy that stopped
    const txids = [...new Set(changes.flatMap((c) => (c.txid ? [c.txid] : [])))];
    if (txids.length) this.ctx.commitsRefused?.(this.sot, txids);
    resync?.();
  }

  /** Reads held on the source from now; the returned function starts the wait for the re-sync that ends the hold. */
  private refusalHold(changes: Change[]): (() => void) | undefined {
    return this.guard?.refused(changes.length, 'source COMMIT refused after the mirror committed');
  }

  /** A statement of the proxy's, with JSON literals of the session's rows and keys, readable in its client_encoding. */
  private inSessionEncoding(sql: string): string {
    return this.readsUtf8() ? sql : jsonAscii(sql);
  }

  /**
   * Whether the session's source connection is known to exchange text as UTF-8: not once the client has SET its
   * client_encoding (a statement pipelined behind the SET goes before the server reports the new one).
   */
  private readsUtf8(): boolean {
    return !this.encodingSet && isUtf8(this.source.reported.get('client_encoding'));
  }

  /**
   * The keys as re-sync rows in the change table, on the session's source
   * connection; when that is gone or fails (the COMMIT's outcome unknown, the
   * mirror already written), the drainer records them on a connection of its
   * own before it drains anything.
   */
  private async recordDirty(changes: Change[], inTransaction: boolean): Promise<void> {
    if (!this.source.lost) {
      const dialect = this.ctx.capture(this.sot);
      const c = new Collect();
      this.source.request(queryMessage(this.inSessionEncoding((!inTransaction && dialect.dirtySqlAlone?.(changes)) || dialect.dirtySql(changes))), c);
      if (await c.done.then(() => !c.error, () => false)) return;
      if (c.error && inTransaction) this.dirtyRefused = c.error;
      if (c.error) this.ctx.log.error({ reason: parseErrorFields(c.error.bytes.subarray(5)).M, inTransaction }, 'could not record dirty keys on the session; the drainer records them');
    }
    this.ctx.recordDirty?.(this.sot, changes.map((c) => ({ tbl: c.tbl, pk: c.pk })));
  }

  // ---- plumbing for the handlers ----

  sourceLost(): void {
    if (this.closed) return;
    this.closed = true;
    // a FATAL of the server's own ended this session only (session-level: see Session's byte relay)
    if (!this.source.farewell) this.ctx.onSourceDown?.();
    this.onFatal('08006', 'lost connection to the source database', this.source.farewell?.bytes);
  }

  close(): void {
    this.closed = true;
    if (this.beginHold) clearTimeout(this.beginHold);
    this.resume?.cancel();
    this.backlogged?.end();
    // what this turn wrote keeps its place ahead of the session's own last words and Terminate
    this.order.flush();
    this.source.flush();
    const t = this.target;
    if (t && this.ctx.park && this.parkAs?.link === t && !this.customSettingOnTarget) {
      // kept for the next session that starts up alike if it is idle outside a transaction, else closed
      // there (parked-reads.ts); the lease goes with it, given back when it closes
      const lease = this.targetLease;
      this.target = null;
      this.targetLease = null;
      t.onParse = null;
      this.ctx.park(this.parkAs.key, { link: t, cancel: t.cancelKey, ...(lease ? { lease } : {}) });
    } else t?.destroy();
  }

  /** Answers written this turn go to the client now, ahead of a FATAL the session writes itself. */
  flushAnswers(): void {
    this.order.flush();
  }
}

/** A held answer that outgrew its limit: what was held goes to the slot, and the rest as it comes. */
function streamInto(slot: Slot, held: Buffer[]): (b: Buffer) => void {
  for (const b of held) slot.write(b);
  return (b) => slot.write(b);
}

/** Whether `msgs` execute or describe the unnamed portal before binding it themselves. */
function runsUnboundUnnamedPortal(msgs: Message[]): boolean {
  for (const m of msgs) {
    if (m.type !== 0x42 && m.type !== 0x45 && !(m.type === 0x44 && m.bytes[5] === 0x50)) continue;
    const r = new BodyReader(m.bytes);
    if (m.type === 0x44) r.bytes(1);
    if (r.cstring() !== '') continue;
    return m.type !== 0x42;
  }
  return false;
}

/** Statements a segment binds that were parsed before it (and not again in it). */
function onlyBound(referenced: Set<string>, definedHere: Set<string>): Set<string> {
  return new Set([...referenced].filter((n) => !definedHere.has(n)));
}

function combine(a: Kind, b: Kind): Kind {
  const rank: Record<Kind, number> = { read: 0, session: 1, unknown: 2, write: 3, ddl: 4, txn: 5 };
  return rank[b] > rank[a] ? b : a;
}

/** Past this size a client message of a wrapped write is let go of once sent (letGoOfLarge). */
const LET_GO_BYTES = 1 << 20;

/**
 * Large messages of a request already handed to the server connection, put
 * back in `msgs` as their header alone: the request's array stays referenced
 * through the drain, the mirror's apply and the COMMIT, and eight sessions
 * each inserting a 50 MB bytea held 400 MB of Binds for all that time. Only
 * the messages' types are read after this (the request is never sent again
 * unless it may run again: a CALL, which keeps its messages).
 */
function letGoOfLarge(msgs: Message[]): void {
  msgs.forEach((m, i) => {
    if (m.bytes.length >= LET_GO_BYTES) msgs[i] = { type: m.type, bytes: Buffer.from(m.bytes.subarray(0, 5)) };
  });
}

/** The drain itself failed (not because the client's transaction had already failed, 25P02): the transaction is aborted. */
function drainFailed(drain: Collect): boolean {
  return Boolean(drain.error) && parseErrorFields(drain.error!.bytes.subarray(5)).C !== '25P02';
}

/**
 * What the client hears when its transaction's drain failed. A serialization
 * failure or deadlock (class 40) is the server's own answer, as it would have
 * come to any statement of the transaction: the client retries as it always
 * does. Anything else (capture missing under it) gets the reason.
 */
function drainFailure(error: Message | null, what: 'transaction' | 'write' = 'transaction'): Buffer {
  if (error && parseErrorFields(error.bytes.subarray(5)).C?.startsWith('40')) return error.bytes;
  return errorResponse({ severity: 'ERROR', code: '40000', message: `the ${what} was rolled back: its changes could not be taken for the mirror (capture missing on the source of truth?)` });
}

const bulkReason = (limit: number) => `a transaction changed more than ${limit} rows: too many to apply before its commit; the drainer copies them after it`;

/** The refusal a request sent without its Sync must raise on the server, or null. */
function unsyncedRefusal(txnOps: string[], kind: Kind, allowDdl: boolean, largeObjects: boolean): string | null {
  if (txnOps.includes('prepare')) return PREPARE_REFUSAL.inBlock;
  if (kind !== 'ddl' || allowDdl) return null;
  return ddlRefusal(largeObjects).inBlock;
}

/** Whether a request writes a large object (large-objects.ts). */
function writesLargeObjects(c: Classification): boolean {
  return c.statements.some((st) => st.largeObjects);
}

/** commitOwn's answer when the source connection was lost. */
const LOST = Symbol('source lost');

type AheadStep = 'read' | 'write' | 'commit' | 'rollback' | 'other';

/**
 * A request inside a transaction, as drain-ahead sees it: `txn` is its one
 * transaction-control statement ('many': more statements, some of them
 * transaction control). Only a request the relay forwards as it is, or the
 * mirrored COMMIT and ROLLBACK, may leave drained rows out of the change table.
 */
function aheadStep(mirroring: boolean, txn: TxnOp | 'many' | null, kind: Kind, copies: boolean): AheadStep {
  if (!mirroring) return 'other';
  if (txn === 'commit') return 'commit';
  if (txn === 'rollback') return 'rollback';
  if (txn !== null || copies) return 'other';
  if (kind === 'read' || kind === 'session') return 'read';
  return kind === 'write' ? 'write' : 'other';
}

/** Messages that only parse and describe statements (and flush): they bind nothing and run nothing. */
function onlyDescribes(msgs: Message[]): boolean {
  return msgs.every((m) => m.type === 0x50 || m.type === 0x48 || (m.type === 0x44 && m.bytes[5] === 0x53));
}
