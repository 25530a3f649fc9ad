// Client responses in request order, whichever backend produced them. Each
// request takes a slot when it is sent; the oldest open slot streams straight
// to the client, later ones buffer until everything before them is complete.
import type { Socket } from 'node:net';
import { TurnWriter, type Backlog } from './turn-writer.ts';

export class Slot {
  buffered: Buffer[] = [];
  complete = false;
  /** Notifications that came while the request was answered: they go out ahead of its ReadyForQuery. */
  notes: Buffer[] | null = null;
  /** Its answer goes to no one (ResponseOrder.mute), but for an error and what came before it. */
  muted = false;
  /** A muted slot's answer so far, until an error sends it (null once sent); not made for every request. */
  private unsent: Buffer[] | null = null;
  constructor(private readonly order: ResponseOrder) {}

  mute(): void {
    this.muted = true;
    this.unsent = [];
  }

  write(b: Buffer): void {
    if (this.muted) {
      if (!this.unsent) return;
      if (b[0] !== 0x45 /* E */) {
        this.unsent.push(b);
        return;
      }
      // the server sends an error at once, with everything it answered before it (a flush of its own), and skips the rest
      const before = this.unsent;
      this.unsent = null;
      for (const h of before) this.order.write(this, h);
      this.order.write(this, b);
      return;
    }
    if (this.notes && b[0] === 0x5a /* Z */) this.writeNotes();
    this.order.write(this, b);
  }

  /** The request's last byte has been written. */
  end(): void {
    if (this.notes && !this.muted) this.writeNotes();
    this.complete = true;
    this.order.advance();
  }

  private writeNotes(): void {
    const notes = this.notes!;
    this.notes = null;
    for (const b of notes) this.order.write(this, b);
  }
}

export class ResponseOrder {
  private readonly slots: Slot[] = [];
  private readonly out: TurnWriter;
  private muted = false;

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

  /** Answers to requests from now on go to no one (the client left, and the server would not have sent them). */
  mute(): void {
    this.muted = true;
  }

  open(): Slot {
    const s = new Slot(this);
    if (this.muted) s.mute();
    this.slots.push(s);
    return s;
  }

  /**
   * Bytes not tied to a request (notifications). PostgreSQL sends them only
   * between requests, or at a commit just ahead of its ReadyForQuery (after
   * the NOTIFY's CommandComplete, which the proxy may hold until its own
   * COMMIT): while a request is answered they wait for its ReadyForQuery.
   */
  direct(b: Buffer): void {
    const last = this.slots.at(-1);
    if (!last) this.send(b);
    // answered already, behind one that is not: it goes out with the answer it follows
    else if (last.complete) last.buffered.push(b);
    else (last.notes ??= []).push(b);
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
