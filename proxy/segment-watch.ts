// The answer to extended-protocol messages a client sent without their Sync
// (a Flush, or a Query or FunctionCall behind them): no ReadyForQuery ends it,
// so it is known complete by counting. Each message has one answer that ends
// its part (ParseComplete, BindComplete, the Describe's RowDescription or
// NoData, the Execute's CommandComplete, EmptyQueryResponse, PortalSuspended or
// COPY start, CloseComplete); an ErrorResponse ends it all, as the server then
// skips everything up to the next Sync. Knowing that is what lets a Query sent
// behind such messages be answered in order, or not at all, as the server does.
import type { ResponseHandler } from './backend-link.ts';
import type { Message } from './framing.ts';
import type { Slot } from './response-order.ts';

/** The answers that end one message's part of an extended-protocol answer. */
export const ENDS_PART: ReadonlySet<number> = new Set([
  0x31, // ParseComplete
  0x32, // BindComplete
  0x54, // RowDescription
  0x6e, // NoData
  0x43, // CommandComplete
  0x49, // EmptyQueryResponse
  0x73, // PortalSuspended
  0x47, // CopyInResponse: the rest waits for the client's data
  0x57, // CopyBothResponse
  0x33, // CloseComplete
]);

/** How many part-ending answers the messages get when nothing fails (Flush: none). */
export function partsAnswered(msgs: Message[]): number {
  let n = 0;
  for (const m of msgs) if (m.type !== 0x48) n++;
  return n;
}

export class SegmentWatch implements ResponseHandler {
  settled = false;
  readonly forClient = true;

  /** `withheld`: answer types the client did not ask for (the parts of a stand-in the proxy sent), counted but not passed on. */
  constructor(private readonly slot: Slot, private remaining: number, private readonly onError: () => void, private readonly withheld?: ReadonlySet<number>) {}

  onMessage(m: Message): void {
    if (!this.withheld?.has(m.type)) this.slot.write(m.bytes);
    if (m.type === 0x45) {
      // the server skips what follows up to the client's Sync
      this.onError();
      this.settle();
    } else if (ENDS_PART.has(m.type) && --this.remaining <= 0) this.settle();
  }

  onReady(_status: number, z: Message): void {
    // not expected (no Sync was sent with these messages): passed on all the same
    this.slot.write(z.bytes);
    this.settle();
  }

  onLost(): void {
    this.settle();
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.slot.end();
  }
}
