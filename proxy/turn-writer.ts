// Everything written to one socket in an event-loop turn leaves in one system
// call. The relay hands over messages one at a time, but most of them are
// pieces of the chunk they arrived in (a server's RowDescription, DataRows,
// CommandComplete and ReadyForQuery; a client's Parse … Sync): a piece that
// starts where the previous one ended in the same memory is joined to it as a
// wider view of that memory, never copied, so the usual answer is one plain
// write instead of a writev of four buffers, and one stream write in
// JavaScript instead of four.
import type { Writable } from 'node:stream';

/** Told when a stream's unsent bytes pass `limit` (true), and when they have all left (false). */
export interface Backlog {
  limit: number;
  changed(full: boolean): void;
}

export class TurnWriter {
  private out: Buffer[] = [];
  private scheduled = false;
  private full = false;

  constructor(
    private readonly stream: Writable,
    private readonly backlog?: Backlog,
  ) {}

  write(b: Buffer): void {
    const n = this.out.length;
    const last = n ? this.out[n - 1]! : null;
    if (last && last.buffer === b.buffer && last.byteOffset + last.length === b.byteOffset) {
      this.out[n - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + b.length);
    } else this.out.push(b);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
    }
  }

  /**
   * Send what this turn holds now: before anyone else writes to the stream
   * directly (a FATAL error) or ends it, so the bytes keep their order.
   */
  readonly flush = (): void => {
    this.scheduled = false;
    const out = this.out;
    if (!out.length) return;
    this.out = [];
    const s = this.stream;
    if (s.destroyed || s.writableEnded) return;
    if (out.length === 1) s.write(out[0]!);
    else {
      s.cork();
      for (const b of out) s.write(b);
      s.uncork();
    }
    const watch = this.backlog;
    if (watch && !this.full && s.writableLength > watch.limit) {
      this.full = true;
      watch.changed(true);
      // past the limit, write() has answered false: 'drain' follows once everything has left
      s.once('drain', this.drained);
    }
  };

  private readonly drained = (): void => {
    this.full = false;
    this.backlog!.changed(false);
  };
}
