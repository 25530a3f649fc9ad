// How the relay consumes a backend's answer to one request (ResponseHandler of
// backend-link.ts): stream it to the client's slot, hold it until the source
// committed, run it as one piece of a split request, or keep all of it until
// the target's answer is known to be good.
import type { ResponseHandler } from './backend-link.ts';
import type { Message } from './framing.ts';
import { parseErrorFields, readyForQuery } from './messages.ts';
import type { Slot } from './response-order.ts';

/** The relay, as a handler sees it: told when the source connection is lost under a request. */
export interface SourceWatch {
  sourceLost(): void;
}

/** Streams a request's answer to its slot. */
export class Forward implements ResponseHandler {
  readonly forClient = true;
  readonly failed: Promise<boolean>;
  private resolve!: (failed: boolean) => void;

  /** `onError`: called at the first ErrorResponse, before the client can see it. */
  constructor(private readonly slot: Slot, private readonly relay: SourceWatch, private readonly onError?: () => void) {
    this.failed = new Promise((r) => (this.resolve = r));
  }

  /** The SQLSTATE of the first error in the answer (XX000 when it names none), or null. */
  errorCode: string | null = null;

  onMessage(m: Message): void {
    if (m.type === 0x45 && this.errorCode === null) {
      this.errorCode = parseErrorFields(m.bytes.subarray(5)).C ?? 'XX000';
      this.onError?.();
    }
    this.slot.write(m.bytes);
  }

  onReady(_status: number, z: Message): void {
    this.slot.write(z.bytes);
    this.slot.end();
    this.resolve(this.errorCode !== null);
  }

  onLost(): void {
    this.slot.end();
    this.resolve(true);
    this.relay.sourceLost();
  }
}

/**
 * A wrapped write's answer: streamed until the first CommandComplete (so COPY
 * and RETURNING rows flow), held from there until the source committed.
 */
export class WriteHold implements ResponseHandler {
  readonly forClient = true;
  private held: Buffer[] | null = null;
  readonly done: Promise<number | null>;
  private resolve!: (s: number | null) => void;
  /** The SQLSTATE of the answer's error, when errors are held. */
  errorCode: string | null = null;

  /**
   * `holdErrors`: an error is held too (the request may be run again instead of answered), and so is
   * everything before it: the client must not see a first run's ParseComplete or notices twice.
   */
  constructor(private readonly slot: Slot, private readonly relay: SourceWatch, private readonly holdErrors = false) {
    this.done = new Promise((r) => (this.resolve = r));
    if (holdErrors) this.held = [];
  }

  onMessage(m: Message): void {
    if (m.type === 0x45 /* E */ && this.holdErrors) this.errorCode ??= parseErrorFields(m.bytes.subarray(5)).C ?? null;
    if (m.type === 0x43 /* C */ && !this.held) this.held = [];
    if (this.held) this.held.push(m.bytes);
    else this.slot.write(m.bytes);
  }

  onReady(status: number): void {
    this.resolve(status);
  }

  onLost(): void {
    this.slot.end();
    this.resolve(null);
    this.relay.sourceLost();
  }

  release(status: number): void {
    for (const b of this.held ?? []) this.slot.write(b);
    this.slot.write(readyForQuery(String.fromCharCode(status) as 'I'));
    this.slot.end();
  }

  /**
   * The commit failed: the client gets its error, and of the CommandCompletes
   * what the server sends before such an error. `tags`: 'none' for a COMMIT
   * (its own tag is the error); for an implicit transaction, a simple Query
   * commits before its last statement's CommandComplete ('all-but-last'),
   * the extended protocol at Sync, after every Execute's ('all').
   */
  fail(error: Buffer, status: number, tags: 'none' | 'all' | 'all-but-last' = 'none'): void {
    const held = this.held ?? [];
    let last = -1;
    if (tags === 'all-but-last') for (let i = held.length - 1; i >= 0 && last < 0; i--) if (held[i]![0] === 0x43) last = i;
    held.forEach((b, i) => {
      if (b[0] !== 0x43 || (tags === 'all' || (tags === 'all-but-last' && i !== last))) this.slot.write(b);
    });
    this.slot.write(error);
    this.slot.write(readyForQuery(String.fromCharCode(status) as 'I'));
    this.slot.end();
  }
}

/** One piece of a split request (Relay.runSplit): its answer without its ReadyForQuery. */
export class PieceRun implements ResponseHandler {
  readonly forClient = true;
  readonly done: Promise<{ status: number; error: boolean; tag: string } | null>;
  private resolve!: (r: { status: number; error: boolean; tag: string } | null) => void;
  private error = false;
  private tag = '';

  constructor(
    private readonly out: (b: Buffer) => void,
    private readonly relay: SourceWatch,
    private readonly edit: {
      /** A warning (by SQLSTATE) the server would not have sent for the request as a whole. */
      quiet: string | null;
      /** A notice it would have sent before the CommandComplete. */
      warn: Buffer | null;
      /** Sent instead of the CommandComplete: a COMMIT that could only roll back. */
      failWith: Buffer | null;
      /** Called when the request fails (an error, or a COMMIT answered ROLLBACK), before the client can see it. */
      onFailed?: () => void;
    },
  ) {
    this.done = new Promise((r) => (this.resolve = r));
  }

  onMessage(m: Message): void {
    if (m.type === 0x4e /* N */ && this.edit.quiet && parseErrorFields(m.bytes.subarray(5)).C === this.edit.quiet) return;
    if (m.type === 0x45) {
      this.error = true;
      this.failing();
    }
    if (m.type === 0x43) {
      this.tag = m.bytes.toString('utf8', 5, m.bytes.length - 1);
      if (this.tag === 'ROLLBACK') this.failing();
      if (this.edit.warn) this.out(this.edit.warn);
      if (this.edit.failWith) {
        this.error = true;
        this.out(this.edit.failWith);
        return;
      }
    }
    this.out(m.bytes);
  }

  private failing(): void {
    const f = this.edit.onFailed;
    this.edit.onFailed = undefined;
    f?.();
  }

  onReady(status: number): void {
    this.resolve({ status, error: this.error, tag: this.tag });
  }

  onLost(): void {
    this.resolve(null);
    this.relay.sourceLost();
  }
}

/**
 * A routed read's whole answer, kept until we know the target answered well;
 * or, with `spill`, only up to `spill.limit` bytes: an answer larger than that
 * goes on as it comes, to the writer `spill.start` returns (given what was
 * held), or is dropped when it returns null. A result of a gigabyte was held
 * whole, a gigabyte of the proxy's memory per session reading it.
 */
export class HoldAll implements ResponseHandler {
  messages: Buffer[] = [];
  /** The answer is the client's (a read the source answers, held): see ResponseHandler.forClient. */
  forClient = false;
  readonly done: Promise<{ lost: string | null; error: string | null }>;
  /** Resolved when the answer is complete, or when it began to stream past the limit. */
  readonly decided: Promise<void>;
  /** Whether the answer streams past the limit (to a writer or dropped). */
  spilled = false;
  private resolve!: (o: { lost: string | null; error: string | null }) => void;
  private decide!: () => void;
  private error: string | null = null;
  private held = 0;
  private sink: ((b: Buffer) => void) | null = null;

  /** Descriptions `rewrite` could not renumber (oid-map.ts): while there are any, nothing of the answer may reach the client as it is. */
  private untranslated: Buffer[] = [];
  get unusable(): boolean {
    return this.untranslated.length > 0;
  }
  /** Unusable whatever the catalogs say (a user type in binary form). */
  hopeless = false;
  /** Unusable and too big to hold: dropped. */
  private abandoned = false;

  /** Renumbers the descriptions that failed, again (the catalogs were read since): whether the answer is usable now. */
  retranslate(): boolean {
    if (this.abandoned || this.hopeless || !this.rewrite) return false;
    while (this.untranslated.length) {
      if (this.rewrite(this.untranslated[0]!) !== 'ok') return false;
      this.untranslated.shift();
    }
    return true;
  }

  constructor(
    private readonly spill?: { limit: number; start(held: Buffer[]): ((b: Buffer) => void) | null },
    private readonly rewrite?: (b: Buffer) => 'ok' | 'unknown' | 'never',
  ) {
    this.done = new Promise((r) => (this.resolve = r));
    this.decided = new Promise((r) => (this.decide = r));
  }

  onMessage(m: Message): void {
    if (m.type === 0x45 && !this.error) this.error = parseErrorFields(m.bytes.subarray(5)).C ?? 'XX000';
    if (this.abandoned) return;
    // descriptions come before the rows: an unusable answer is known before any of it could spill
    if (this.rewrite && (m.type === 0x54 || m.type === 0x74) && !this.spilled) {
      const r = this.rewrite(m.bytes);
      if (r !== 'ok') {
        if (r === 'never') this.hopeless = true;
        this.untranslated.push(m.bytes);
      }
    }
    if (this.spilled) {
      this.sink?.(m.bytes);
      return;
    }
    this.messages.push(m.bytes);
    this.held += m.bytes.length;
    if (this.spill && this.held > this.spill.limit && this.unusable) {
      // too big to hold until the catalogs are read again: the source answers instead
      this.abandoned = true;
      this.messages = [];
      return;
    }
    if (this.spill && this.held > this.spill.limit) {
      this.spilled = true;
      this.sink = this.spill.start(this.messages);
      this.messages = [];
      this.decide();
    }
  }

  onReady(_s: number, z: Message): void {
    if (this.spilled) this.sink?.(z.bytes);
    else if (!this.abandoned) this.messages.push(z.bytes);
    this.decide();
    this.resolve({ lost: null, error: this.error });
  }

  onLost(reason: Error): void {
    this.decide();
    this.resolve({ lost: reason.message, error: null });
  }
}
