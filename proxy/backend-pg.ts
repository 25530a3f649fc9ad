// Opening a connection to a PostgreSQL server on behalf of a client: TCP (and
// TLS when the URL asks for it), StartupMessage with the client's parameters,
// authentication as the client's user, then everything up to the first
// ReadyForQuery. What the server says during start-up is kept for the client.
import net from 'node:net';
import tls from 'node:tls';
import { MessageAssembler, BodyReader, type Message } from './framing.ts';
import { passwordMessage, saslInitialResponse, sslRequest, startupMessage, parseErrorFields } from './messages.ts';
import { md5Answer, md5Stored } from './auth/md5.ts';
import { ScramClient } from './auth/scram.ts';
import type { UpstreamSecret } from './auth/client-auth.ts';

export interface PgEndpoint {
  host: string;
  port: number;
  sslmode: string | undefined;
}

export interface BackendConnection {
  socket: net.Socket;
  /** ParameterStatus and NoticeResponse messages the server sent during start-up, to relay. */
  startupMessages: Buffer[];
  parameters: Map<string, string>;
  pid: number;
  secret: number;
  /** Bytes the server sent after its first ReadyForQuery (normally none). */
  leftover: Buffer[];
}

/** The server refused the session: its ErrorResponse is relayed to the client unchanged. */
export class BackendStartupError extends Error {
  constructor(readonly errorMessage: Buffer, readonly fields: Record<string, string>) {
    super(fields.M ?? 'server refused the connection');
  }
  get code(): string {
    return this.fields.C ?? '08006';
  }
}

export class BackendUnavailable extends Error {
  readonly code = '08006';
}

/** The new database cannot run a session as the client's role: no fault of its health, the session reads from the source. */
export class TargetRoleUnavailable extends Error {}

export interface ConnectOptions {
  endpoint: PgEndpoint;
  startup: Record<string, string>;
  secret: UpstreamSecret;
  timeoutMs?: number;
  maxMessageSize: number;
}

export async function connectBackend(opts: ConnectOptions): Promise<BackendConnection> {
  const { endpoint } = opts;
  let socket: net.Socket = await openSocket(endpoint, opts.timeoutMs ?? 10_000);
  try {
    if (endpoint.sslmode && endpoint.sslmode !== 'disable' && endpoint.sslmode !== 'allow' && endpoint.sslmode !== 'prefer') {
      socket = await upgradeTls(socket, endpoint);
    }
    return await handshake(socket, opts);
  } catch (e) {
    socket.destroy();
    throw e;
  }
}

function openSocket(ep: PgEndpoint, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: ep.host, port: ep.port, noDelay: true });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new BackendUnavailable(`timed out connecting to ${ep.host}:${ep.port}`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.setKeepAlive(true, 30_000);
      resolve(s);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new BackendUnavailable(`could not connect to ${ep.host}:${ep.port}: ${e.code ?? e.message}`));
    });
  });
}

function upgradeTls(socket: net.Socket, ep: PgEndpoint): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    socket.write(sslRequest());
    socket.once('data', (d: Buffer) => {
      if (d[0] !== 0x53 /* S */) {
        reject(new BackendUnavailable(`server ${ep.host}:${ep.port} does not support TLS (sslmode=${ep.sslmode})`));
        return;
      }
      const verify = ep.sslmode === 'verify-full' || ep.sslmode === 'verify-ca';
      const t = tls.connect({
        socket,
        servername: net.isIP(ep.host) ? undefined : ep.host,
        rejectUnauthorized: verify,
        checkServerIdentity: ep.sslmode === 'verify-ca' ? () => undefined : tls.checkServerIdentity,
      });
      t.once('secureConnect', () => resolve(t));
      t.once('error', (e) => reject(new BackendUnavailable(`TLS to ${ep.host}:${ep.port} failed: ${e.message}`)));
    });
    socket.once('error', (e) => reject(new BackendUnavailable(e.message)));
  });
}

function handshake(socket: net.Socket, opts: ConnectOptions): Promise<BackendConnection> {
  return new Promise((resolve, reject) => {
    const asm = new MessageAssembler(opts.maxMessageSize);
    const conn: BackendConnection = { socket, startupMessages: [], parameters: new Map(), pid: 0, secret: 0, leftover: [] };
    const user = opts.startup.user ?? '';
    let scram: ScramClient | null = null;
    let done = false;
    const timer = setTimeout(() => fail(new BackendUnavailable('timed out during start-up with the server')), opts.timeoutMs ?? 10_000);

    const fail = (e: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      reject(e);
    };
    const password = (): string | null => (opts.secret.kind === 'password' ? opts.secret.password : null);

    const onMessage = (m: Message) => {
      if (done) {
        conn.leftover.push(Buffer.from(m.bytes));
        return;
      }
      switch (m.type) {
        case 0x52: { // R: authentication request
          const r = new BodyReader(m.bytes);
          const code = r.int32();
          if (code === 0) return;
          if (code === 3) {
            const pw = password();
            if (pw === null) return fail(noSecret(user, 'cleartext password'));
            socket.write(passwordMessage(pw));
          } else if (code === 5) {
            const salt = r.bytes(4);
            const pw = password();
            const stored = pw !== null ? md5Stored(pw, user) : opts.secret.kind === 'md5-stored' ? opts.secret.stored : null;
            if (!stored) return fail(noSecret(user, 'md5'));
            socket.write(passwordMessage(md5Answer(stored, salt)));
          } else if (code === 10) {
            const pw = password();
            if (pw !== null) scram = new ScramClient({ password: pw });
            else if (opts.secret.kind === 'scram-keys') scram = new ScramClient({ keys: opts.secret.keys });
            else return fail(noSecret(user, 'SCRAM-SHA-256'));
            socket.write(saslInitialResponse('SCRAM-SHA-256', scram.first()));
          } else if (code === 11) {
            if (!scram) return fail(new BackendUnavailable('unexpected SASL continue from server'));
            try {
              socket.write(passwordMessage(Buffer.from(scram.final(r.rest().toString('utf8')), 'utf8')));
            } catch (e) {
              return fail(new BackendUnavailable((e as Error).message));
            }
          } else if (code === 12) {
            try {
              scram?.verify(r.rest().toString('utf8'));
            } catch (e) {
              return fail(new BackendUnavailable((e as Error).message));
            }
          } else {
            return fail(new BackendUnavailable(`server asked for an authentication method the proxy does not support (code ${code})`));
          }
          return;
        }
        case 0x53: { // S: ParameterStatus
          const r = new BodyReader(m.bytes);
          conn.parameters.set(r.cstring(), r.cstring());
          conn.startupMessages.push(Buffer.from(m.bytes));
          return;
        }
        case 0x4b: { // K: BackendKeyData
          const r = new BodyReader(m.bytes);
          conn.pid = r.int32();
          conn.secret = r.int32();
          return;
        }
        case 0x4e: // N: notice during start-up
          conn.startupMessages.push(Buffer.from(m.bytes));
          return;
        case 0x45: // E
          return fail(new BackendStartupError(Buffer.from(m.bytes), parseErrorFields(m.bytes.subarray(5))));
        case 0x5a: // Z: ready
          done = true;
          clearTimeout(timer);
          socket.off('data', onData);
          socket.off('close', onClose);
          resolve(conn);
          return;
        default:
          return fail(new BackendUnavailable(`unexpected message "${String.fromCharCode(m.type)}" from server during start-up`));
      }
    };
    const onData = (chunk: Buffer) => {
      try {
        asm.push(chunk, onMessage);
      } catch (e) {
        fail(e as Error);
      }
    };
    const onClose = () => fail(new BackendUnavailable('server closed the connection during start-up'));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(startupMessage(opts.startup));
  });
}

function noSecret(user: string, method: string): Error {
  return new BackendStartupError(Buffer.alloc(0), {
    C: '28P01',
    M: `the server asks for ${method} authentication for user "${user}", and the proxy has no password for it (add it to "users" in the config)`,
    S: 'FATAL',
  });
}
