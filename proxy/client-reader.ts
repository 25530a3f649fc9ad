// Reads a client connection during start-up and authentication, packet by
// packet, then hands the socket (and any bytes already received) to the relay.
import type { Socket } from 'node:net';
import { FrameError, type Message } from './framing.ts';

/** Start-up packets are small; PostgreSQL itself rejects anything over 10 000 bytes. */
const MAX_STARTUP_PACKET = 10_000;

export class ClientGone extends Error {}

export class ClientReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private waiter: (() => void) | null = null;
  private closed = false;
  private readonly onData = (d: Buffer) => {
    this.chunks.push(d);
    this.size += d.length;
    this.wake();
  };
  private readonly onEnd = () => {
    this.closed = true;
    this.wake();
  };

  constructor(private socket: Socket) {
    this.attach();
  }

  private attach(): void {
    this.socket.on('data', this.onData);
    this.socket.on('end', this.onEnd);
    this.socket.on('close', this.onEnd);
  }

  private detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
  }

  /** Bytes received but not yet read. */
  get buffered(): number {
    return this.size;
  }

  /** The client has hung up (end or close), whatever it sent before still buffered here. */
  get ended(): boolean {
    return this.closed;
  }

  /** After a TLS upgrade the plaintext arrives on another socket object. */
  switchSocket(socket: Socket): void {
    this.detach();
    this.socket = socket;
    this.closed = false;
    this.attach();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async need(n: number): Promise<void> {
    while (this.size < n) {
      if (this.closed) throw new ClientGone('client closed the connection');
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.size = rest.length;
    return out;
  }

  /** An untyped start-up packet: int32 length (including itself), then the body. */
  async startupPacket(): Promise<Buffer> {
    await this.need(4);
    const head = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const len = head.readInt32BE(0);
    // Terminate (X, length 4) before any start-up: a client that hung up at once (node-postgres's connect(); end()).
    // PostgreSQL answers it nothing: an error here would reach that client as a failed connect
    if (head[0] === 0x58 && head[1] === 0 && head[2] === 0 && head[3] === 0) throw new ClientGone('client sent Terminate before its start-up packet');
    if (len < 8 || len > MAX_STARTUP_PACKET) throw new FrameError(`invalid length of startup packet (${len} bytes)`);
    await this.need(len);
    return this.take(len);
  }

  /** A typed message (during authentication). */
  async message(maxSize: number): Promise<Message> {
    await this.need(5);
    const head = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const type = head[0]!;
    const len = head.readInt32BE(1);
    if (len < 4 || len > Math.min(maxSize, MAX_STARTUP_PACKET)) throw new FrameError(`invalid message length ${len} during authentication`);
    await this.need(1 + len);
    return { type, bytes: this.take(1 + len) };
  }

  /** Stop reading; returns what was received but not consumed. */
  release(): Buffer | null {
    this.detach();
    if (this.size === 0) return null;
    return this.take(this.size);
  }
}
