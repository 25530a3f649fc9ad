// Client responses in request order, whichever backend produced them. Each
// request takes a slot when it is sent; the oldest open slot streams straight
// to the client, later ones buffer until everything before them is complete.
import type { Socket } from 'node:net';
import { TurnWriter, type Backlog } from './turn-writer.ts';

export class Slot {
  buffered: Buffer[] = [];
  complete = false;
  constructor(private readonly order: ResponseOrder) {}

  write(b: Buffer): void {
    this.order.write(this, b);
  }

  /** The request's last byte has been written. */
  end(): void {
    this.complete = true;
    this.order.advance();
  }
}

export class ResponseOrder {
  private readonly slots: Slot[] = [];
  private readonly out: TurnWriter;

  constructor(
    client: Socket,
    private readonly counted?: { bytesOut: number },
    backlog?: Backlog,
  ) {
    this.out = new TurnWriter(client, backlog);
  }

  /** What this turn holds goes to the client now (before the session writes to it or ends it). */
  flush(): void {
    this.out.flush();
  }

  open(): Slot {
    const s = new Slot(this);
    this.slots.push(s);
    return s;
  }

  /** Bytes not tied to a request (notifications). */
  direct(b: Buffer): void {
    // the streaming slot's buffer is never flushed (only a slot that becomes the head is): send now
    if (this.slots.length <= 1) this.send(b);
    else this.slots[this.slots.length - 1]!.buffered.push(b);
  }

  write(slot: Slot, b: Buffer): void {
    if (this.slots[0] === slot) this.send(b);
    else slot.buffered.push(b);
  }

  advance(): void {
    while (this.slots[0]?.complete) {
      this.slots.shift();
      const next = this.slots[0];
      if (next?.buffered.length) {
        for (const b of next.buffered) this.send(b);
        next.buffered = [];
      }
    }
  }

  private send(b: Buffer): void {
    if (this.counted) this.counted.bytesOut += b.length;
    this.out.write(b);
  }
}
