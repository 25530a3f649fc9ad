// One server connection as the relay sees it: messages out, and for every
// request that ends in ReadyForQuery a handler, in order (the server answers
// in order). Messages that arrive with no request pending (notifications,
// parameter changes) go to `unsolicited`.
import type { Duplex } from 'node:stream';
import type { CancelTarget } from './cancel.ts';
import { BodyReader, MessageAssembler, type Message } from './framing.ts';
import { parseErrorFields } from './messages.ts';
import { TurnWriter } from './turn-writer.ts';
import { ENDS_PART } from './segment-watch.ts';

export interface ResponseHandler {
  onMessage(m: Message): void;
  /** ReadyForQuery: the request is complete. */
  onReady(status: number, z: Message): void;
  /** The connection died before the request completed. */
  onLost(reason: Error): void;
  /**
   * Set once the answer is complete without a ReadyForQuery: the answer to
   * extended-protocol messages sent without their Sync (segment-watch.ts).
   */
  readonly settled?: boolean;
  /**
   * The answer goes to the client: a setting's report (ParameterStatus) the server sent on a request of the
   * proxy's own is passed on in it, ahead of its ReadyForQuery (BackendLink.keepsReports).
   */
  readonly forClient?: boolean;
  /** The proxy's own request changes settings the client was told of already (its session state, given to a new source at promote): no report of it is owed. */
  readonly dropsReports?: boolean;
  /**
   * A message of `bytes` (LARGE_MESSAGE or more) of this answer has begun to
   * arrive: false to have the connection read no further until `resume` is
   * called (the memory it would take is not to be had yet).
   */
  large?(bytes: number, resume: () => void): boolean;
}

/** Why a link's server is not read: the drain budget, or the client's unread answers. */
export type ReadHold = 'budget' | 'client';

/** The size from which a message in an answer is announced to its handler (ResponseHandler.large). */
export const LARGE_MESSAGE = 1 << 20;

/**
 * What a server sends is bounded by PostgreSQL itself (1 GB a field), as the
 * byte relay trusts it. The client-facing maxMessageSize guards against
 * clients; an answer to the proxy's own request can exceed it (the drain of a
 * transaction that wrote a 40 MB bytea is 80 MB of JSON).
 */
export const SERVER_MAX_MESSAGE = 1 << 30;

export class BackendLink {
  private readonly handlers: ResponseHandler[] = [];
  private readonly asm: MessageAssembler;
  lost: Error | null = null;
  /** Transaction status of the last ReadyForQuery. */
  status = 0x49;
  unsolicited: (m: Message) => void = () => undefined;
  onClose: (reason: Error) => void = () => undefined;
  /** Where a client's CancelRequest for this connection goes (null: not cancellable). */
  cancelKey: CancelTarget | null = null;
  /**
   * From CopyInResponse to its ReadyForQuery. The server swallows Sync and
   * Flush while it copies in, so a Sync the client sends then is no request of
   * its own: after an extended-protocol COPY it is what makes the server send
   * the COPY's ReadyForQuery.
   */
  copyIn = false;
  /** A CopyDone or CopyFail went out during copy-in: what follows is read by the server as after the COPY. */
  private copyEnded = false;
  /** ErrorResponses received so far (FATAL ones aside): the relay learns from it whether a SET may have been undone. */
  errors = 0;
  /** Query messages sent so far: each drops the server's unnamed prepared statement. */
  simpleQueries = 0;
  /** Requests answered so far (with `pending`, where a request stands in the order: Relay.cancelTargets). */
  answered = 0;
  /**
   * The last value the server reported for each setting (ParameterStatus; lower-case names) since this link
   * was made, and at the server's start-up when the session started on it (Session.startMessageRelay).
   */
  readonly reported = new Map<string, string>();
  /**
   * Reports of changed settings are the client's (the source of truth's link): the server sends each change once,
   * before its next ReadyForQuery, and when that ends a request of the proxy's own (the BEGIN it sends mid-segment
   * to wrap a write, a replayed Parse's Sync) the report is kept in `owedReports` for the next answer the client
   * gets from this connection. A read connection's reports are the proxy's replays of what the client was told.
   */
  keepsReports = false;
  private readonly owedReports = new Map<string, Message>();
  /** Told when the server enters COPY FROM (its CopyInResponse). */
  onCopyIn: (() => void) | null = null;
  /**
   * The FATAL (or PANIC) ErrorResponse the server ended the session with. It is kept
   * from the pending request: the close that follows fails every request, and whoever
   * tells the client the connection is gone sends this instead of an error of its own,
   * so the client hears the server's reason exactly once.
   */
  farewell: Message | null = null;
  /**
   * Told, for each Parse sent, whether the server made the statement (ParseComplete), failed it (an error), or
   * skipped it (to the Sync after an earlier error): the relay's record of prepared statements follows the server's.
   */
  onParse: ((parse: Buffer, fate: ParseFate) => void) | null = null;
  /**
   * Parse messages sent and not yet answered, in order, among marks of what else was sent (see track): the
   * server answers them in order, and an error skips what follows it up to the Sync.
   */
  private fates: (Buffer | typeof EXTENDED | typeof SYNC_MARK | typeof QUERY_MARK)[] = [];
  private idleWaiters: (() => void)[] = [];
  /** Waiting for a ReadyForQuery with no transaction open past a request (onIdleStatus). */
  private statusWaiters: { after: number; fn: () => void }[] = [];
  // requests issued in one event-loop turn (BEGIN, the statement, the drain) leave in one system call
  private readonly out: TurnWriter;

  /** The role, not the database: promote swaps the names of a session's two links. */
  constructor(public name: 'source' | 'target', readonly stream: Duplex, maxMessageSize = SERVER_MAX_MESSAGE) {
    this.asm = new MessageAssembler(maxMessageSize);
    this.out = new TurnWriter(stream);
    stream.on('data', (chunk: Buffer) => {
      try {
        this.asm.push(chunk, this.dispatch);
        if (this.asm.assemblingSize >= LARGE_MESSAGE && this.asm.assemblingSeq !== this.announced) this.announce(this.asm.assemblingSeq, this.asm.assemblingSize);
      } catch (e) {
        this.fail(e as Error);
      }
    });
    stream.on('error', (e) => this.fail(e));
    stream.on('close', () => this.fail(new Error(`connection to the ${name} database closed`)));
  }

  /** The large message in progress last announced to its handler (MessageAssembler's count). */
  private announced = 0;

  private announce(seq: number, bytes: number): void {
    this.announced = seq;
    const h = this.handlers[0];
    if (!h?.large || h.large(bytes, () => this.readAgain('budget'))) return;
    this.stopReading('budget');
  }

  /**
   * Why the server is not read just now. The drain budget (announce) and a
   * client leaving its answers unread (the relay) each stopped and resumed
   * the one stream: either's resume lifted the other's pause, and a session
   * waiting for the budget read its 100 MB row in anyway once its client
   * caught up, or went on reading for a client that did not.
   */
  private readonly holds = new Set<ReadHold>();

  /** Stop reading the server for `reason` (others may hold it too). */
  stopReading(reason: ReadHold): void {
    this.holds.add(reason);
    this.stream.pause();
  }

  /** `reason` is gone: the server is read again once no other reason holds it. */
  readAgain(reason: ReadHold): void {
    if (!this.holds.delete(reason) || this.holds.size) return;
    this.stream.resume();
  }

  private readonly dispatch = (m: Message): void => {
    this.deliver(m);
    // after its handler: it may look at what was reported before
    if (m.type === 0x53) {
      const r = new BodyReader(m.bytes);
      this.reported.set(r.cstring().toLowerCase(), r.cstring());
    }
  };

  private deliver(m: Message): void {
    if (m.type === 0x45 /* E */ && isFatal(m)) {
      this.farewell = m;
      return;
    }
    if (m.type === 0x47 /* G */ || m.type === 0x57 /* W */) {
      this.copyIn = true;
      this.copyEnded = false;
      // a Sync or Flush sent behind the COPY's Execute (libpq sends one) reaches the server in copy-in mode,
      // which ignores it: the Sync after CopyDone is the one that ends the request
      if (this.fates.length) this.fates = this.fates.filter((f) => f !== SYNC_MARK && f !== EXTENDED);
      this.onCopyIn?.();
    } else if (m.type === 0x5a) this.copyIn = false;
    else if (m.type === 0x45) this.errors++;
    if (this.fates.length && (m.type === 0x31 || m.type === 0x45 || m.type === 0x5a)) this.settleParses(m.type);
    else if (this.fates[0] === EXTENDED && ENDS_PART.has(m.type)) this.fates.shift();
    const h = this.handlers[0];
    if (this.keepsReports && h && (m.type === 0x53 || (m.type === 0x5a && this.owedReports.size))) {
      if (!this.passReports(h, m)) return;
    }
    // A NotificationResponse belongs to no request (the protocol lets it arrive at any
    // time): one that comes inside the answer to a request of the proxy's own, such as
    // the COMMIT that ends a wrapped NOTIFY, must still reach the client.
    if (!h || m.type === 0x41 /* A */) {
      this.unsolicited(m);
      return;
    }
    if (m.type === 0x5a) {
      this.handlers.shift();
      this.answered++;
      this.status = m.bytes[5]!;
      h.onReady(this.status, m);
      if (this.status === 0x49 && this.statusWaiters.length) this.statusIdle();
      if (!this.handlers.length) this.wakeIdle();
    } else {
      h.onMessage(m);
      if (h.settled) {
        this.handlers.shift();
        this.answered++;
        if (!this.handlers.length) this.wakeIdle();
      }
    }
  }

  /** A report kept from the proxy's request, or the ones kept passed on ahead of `m`, a ReadyForQuery for the client; false: `m` is kept. */
  private passReports(h: ResponseHandler, m: Message): boolean {
    if (m.type === 0x53) {
      const name = new BodyReader(m.bytes).cstring().toLowerCase();
      // the client's own answer reports it now: what was kept is older
      this.owedReports.delete(name);
      if (h.forClient) return true;
      if (!h.dropsReports) this.owedReports.set(name, m);
      return false;
    }
    if (h.forClient) {
      for (const r of this.owedReports.values()) h.onMessage(r);
      this.owedReports.clear();
    }
    return true;
  }

  get pending(): number {
    return this.handlers.length;
  }

  /**
   * `fn` once the server reports no transaction open after the requests sent so far and the next are answered
   * (a ReadyForQuery 'I' past them), or the connection is gone: when what they did is committed or undone.
   */
  onIdleStatus(fn: () => void): void {
    if (this.lost) return fn();
    this.statusWaiters.push({ after: this.answered + this.handlers.length, fn });
  }

  private statusIdle(): void {
    const ready = this.statusWaiters.filter((w) => this.answered > w.after);
    if (!ready.length) return;
    this.statusWaiters = this.statusWaiters.filter((w) => this.answered <= w.after);
    for (const w of ready) w.fn();
  }

  /** Resolves once every request sent so far is answered (or the connection is gone). */
  whenIdle(): Promise<void> {
    if (!this.handlers.length || this.lost) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private wakeIdle(): void {
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Send a request (its messages end in Sync, are a Query, or are answered by a handler that settles) and register who reads the answer. */
  request(bytes: Buffer | Buffer[], handler: ResponseHandler): void {
    if (this.lost) {
      handler.onLost(this.lost);
      return;
    }
    this.handlers.push(handler);
    this.write(bytes);
  }

  /** Messages with no answer of their own (CopyData, or part of an extended sequence before its Sync). */
  write(bytes: Buffer | Buffer[]): void {
    if (Array.isArray(bytes)) {
      for (const b of bytes) {
        if (b[0] === 0x51) this.simpleQueries++;
        this.track(b);
        this.out.write(b);
      }
    } else {
      if (bytes[0] === 0x51) this.simpleQueries++;
      this.track(bytes);
      this.out.write(bytes);
    }
  }

  /** Note a message sent whose place matters to the fate of a Parse (onParse). */
  private track(b: Buffer): void {
    const type = b[0];
    // COPY FROM's data ends no segment, and the server ignores a Sync or Flush until the CopyDone (or CopyFail)
    if (type === 0x64) return;
    if (type === 0x63 || type === 0x66) {
      if (this.copyIn) this.copyEnded = true;
      return;
    }
    if (this.copyIn && !this.copyEnded && (type === 0x53 || type === 0x48)) return;
    if (type === 0x50) this.fates.push(b);
    else if (type === 0x53) this.fates.push(SYNC_MARK);
    else if (type === 0x51 || type === 0x46) {
      // a Query (or FunctionCall, answered the same way) behind extended-protocol messages goes once they are
      // answered without an error (Relay.inSegment)
      while (this.fates.at(-1) === EXTENDED) this.fates.pop();
      this.fates.push(QUERY_MARK);
    }
    // one mark per message that gets an answer of its own (a Flush gets none): an error then belongs to the first
    // message not yet answered, which tells a Parse that failed from one skipped behind a failed Bind or Execute
    else if (ANSWERED.has(type!)) this.fates.push(EXTENDED);
  }

  /** A ParseComplete, ErrorResponse or ReadyForQuery: the fate of the Parse messages it answers. */
  private settleParses(type: number): void {
    // on every ParseComplete, ErrorResponse and ReadyForQuery: no closure made per call (tsx names each one)
    const f = this.fates;
    if (type === 0x31) {
      // the first Parse not yet answered: what came before it ran
      while (f.length && f[0] === EXTENDED) f.shift();
      const head = f.shift();
      if (Buffer.isBuffer(head)) this.onParse?.(head, 'made');
      else this.fates = [];
      return;
    }
    if (type === 0x45) {
      // a Query's own error skips nothing; any other skips up to the Sync, after the Parse it met (if it met one)
      if (f[0] === QUERY_MARK) return;
      let fate: ParseFate = 'failed';
      while (f.length && f[0] !== SYNC_MARK) {
        const b = f.shift()!;
        if (Buffer.isBuffer(b)) this.onParse?.(b, fate);
        fate = 'skipped';
      }
      return;
    }
    // ReadyForQuery ends a Sync's or a Query's request
    while (f.length) {
      const b = f.shift()!;
      if (b === SYNC_MARK || b === QUERY_MARK) return;
      if (Buffer.isBuffer(b)) this.onParse?.(b, 'skipped');
    }
  }

  /** Send what this turn holds now (before the session ends the connection). */
  flush(): void {
    this.out.flush();
  }

  private fail(reason: Error): void {
    if (this.lost) return;
    this.lost = reason;
    const pending = this.handlers.splice(0);
    for (const h of pending) h.onLost(reason);
    this.wakeIdle();
    for (const w of this.statusWaiters.splice(0)) w.fn();
    this.onClose(reason);
  }

  destroy(): void {
    this.stream.destroy();
  }
}

export type ParseFate = 'made' | 'failed' | 'skipped';

/** Extended-protocol messages other than Parse that the server answers one by one: Bind, Describe, Execute, Close. */
const ANSWERED = new Set([0x42, 0x44, 0x45, 0x43]);
/** Marks among the Parses a link follows (fates): an extended-protocol message, a Sync, a Query. */
const EXTENDED = 'x' as const;
const SYNC_MARK = 's' as const;
const QUERY_MARK = 'q' as const;

function isFatal(m: Message): boolean {
  const f = parseErrorFields(m.bytes.subarray(5));
  // V is the untranslated severity (9.6+); S may be localized
  const severity = f.V ?? f.S;
  return severity === 'FATAL' || severity === 'PANIC';
}

/** Collects an internal request's answer: rows (text), first error, final status. */
export class Collect implements ResponseHandler {
  rows: (string | null)[][] = [];
  error: Message | null = null;
  tag = '';
  dropsReports = false;
  /** Where the reports in the answer go, when the request's caller passes them on itself (Relay.runSplit). */
  private reportTo: ((b: Buffer) => void) | null = null;
  get forClient(): boolean {
    return this.reportTo !== null;
  }
  readonly done: Promise<number>;
  private resolve!: (status: number) => void;
  private reject!: (e: Error) => void;

  constructor() {
    this.done = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.done.catch(() => undefined);
  }

  /** For a request that gives a connection the session state the client knows of already (ResponseHandler.dropsReports). */
  static quiet(): Collect {
    const c = new Collect();
    c.dropsReports = true;
    return c;
  }

  /** For a request whose settings' reports `to` takes. */
  static reporting(to: (b: Buffer) => void): Collect {
    const c = new Collect();
    c.reportTo = to;
    return c;
  }

  onMessage(m: Message): void {
    if (m.type === 0x53 /* S */) this.reportTo?.(m.bytes);
    if (m.type === 0x44 /* D */) this.rows.push(parseDataRow(m.bytes));
    else if (m.type === 0x45 /* E */) this.error ??= m;
    else if (m.type === 0x43 /* C */) this.tag = m.bytes.toString('utf8', 5, m.bytes.length - 1);
  }

  onReady(status: number): void {
    this.resolve(status);
  }

  onLost(reason: Error): void {
    this.reject(reason);
  }
}

function parseDataRow(b: Buffer): (string | null)[] {
  const n = b.readInt16BE(5);
  const out: (string | null)[] = [];
  let i = 7;
  for (let c = 0; c < n; c++) {
    const len = b.readInt32BE(i);
    i += 4;
    if (len < 0) out.push(null);
    else {
      out.push(b.toString('utf8', i, i + len));
      i += len;
    }
  }
  return out;
}
