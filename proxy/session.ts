// One client session, from the first byte to the close.
//
// Design. A session owns the client socket and, in session mode, its own
// connection to the source of truth. Start-up and authentication are the
// proxy's (startup.ts, auth/); after ReadyForQuery the session relays.
//
// The relay is where routing and mirroring plug in. Every client byte passes
// `fromClient`, which frames it (FrameScanner: type and length, no payload
// copies) and counts the requests that will each end in one ReadyForQuery
// (Query, Sync, FunctionCall). Server bytes pass `fromServer`, which frames
// them the same way to follow ReadyForQuery's transaction status. Whole chunks
// are forwarded as they arrived: no re-serialising, one write per chunk.
//
// The next layers change what happens between framing and forwarding:
// - Routing: when a read may go to the other database, the session switches the
//   client direction to MessageAssembler (whole messages as views), classifies
//   Query/Parse text (cached by text), and sends each request — a Query, or
//   the messages up to and including a Sync — to one backend. A FIFO of
//   "which backend answers the next ReadyForQuery" keeps responses in client
//   order when pipelined requests go to different backends.
// - Mirroring: before a COMMIT (or the implicit commit of an autocommit write)
//   the session sends proxy-internal queries on the source (drain the
//   transaction's change rows) whose responses are consumed by the session
//   and never reach the client, applies them to the mirror, then lets COMMIT
//   through. The same FIFO marks those internal requests.
// A backend is anything that speaks the backend protocol over a Duplex after
// start-up: a PostgreSQL socket, or the in-process SQLite engine.
// Which database is the source of truth is LiveState's: a session starts on
// it, and the message relay follows it at transaction boundaries (promote).
// Connections to the legacy database log in as the client's user; to the new
// one as the target URL's role (the new database holds its own credentials).
import type { OidMap } from './oid-map.ts';
import type { Duplex } from 'node:stream';
import { takeRouteOption } from './startup-options.ts';
import tls from 'node:tls';
import type { Socket } from 'node:net';
import type { Logger } from '../common/log.ts';
import type { LiveState, Side } from '../common/live-state.ts';
import { authenticateClient, AuthFailed, type AuthMethod, type UpstreamSecret } from './auth/client-auth.ts';
import { CredentialLookupError, type Credentials } from './auth/credentials.ts';
import { BackendStartupError, BackendUnavailable, connectBackend, TargetRoleUnavailable, type BackendConnection, type PgEndpoint } from './backend-pg.ts';
import type { CancelRegistry, CancelTarget } from './cancel.ts';
import { ClientGone, ClientReader } from './client-reader.ts';
import { FrameError, FrameScanner } from './framing.ts';
import { PgError } from './sqlite/errors.ts';
import { engineDefaults, sourceDefaults, type DefaultsCache } from './read-side-settings.ts';
import {
  CANCEL_REQUEST, GSSENC_REQUEST, SSL_REQUEST,
  backendKeyData, fatal, negotiateProtocolVersion, readyForQuery, terminateMessage,
} from './messages.ts';
import type { ProxyStats } from './stats.ts';
import { BackendLink } from './backend-link.ts';
import { Relay } from './relay.ts';
import type { SessionRoute } from './router.ts';
import type { TargetGuard } from './mirror/target-guard.ts';
import type { TargetSessions } from './target-sessions.ts';
import type { ParkedReads } from './parked-reads.ts';
import type { CaptureDialect, DirtyKey } from './capture/dialect.ts';
import { refuseReplication } from './replication-startup.ts';

/** What a session needs to mirror writes and route reads; absent without a target. */
export interface MirrorRuntime {
  /** The breaker of the current mirror direction (legacy → new until promote, then new → legacy). */
  guard(): TargetGuard;
  /** How sessions reach the new database: its address and the target URL's role. */
  target: { endpoint: PgEndpoint; user: string; database: string; secret: UpstreamSecret };
  allowDdl: boolean;
  defaultRoute: SessionRoute;
  shadowSample: number;
  /** Drain and dirty-key statements of the source of truth on `side` (an SQLite legacy file and PostgreSQL differ). */
  capture: (side: Side) => CaptureDialect;
  /** Dirty keys a session could not record on the source of truth `side` (its connection was lost): its drainer records them. */
  recordDirty: (side: Side, keys: DirtyKey[]) => void;
  /** Source transactions a session saw fail at COMMIT after the mirror applied them (drainer.ts, the ledger). */
  commitsRefused?: (side: Side, txids: string[]) => void;
  /** Whether a read naming these relations must stay on the source of truth (materialized views, sequences). */
  unmirrored?: (relations: string[] | undefined) => boolean;
  /** DDL let through (allowDdl): the relations above are read again once the returned function is called, at its transaction's end. */
  schemaChanging?: () => () => void;
  /** Whether a write naming these relations may run a trigger or rule of the user's. */
  fires?: (relations: string[] | undefined) => boolean;
  /** Renumbers routed answers to the source of truth's objects (both sides PostgreSQL). */
  oids?: OidMap;
  /** The proxy's limit on session connections for reads to the database that is not the source of truth. */
  readSessions?: TargetSessions;
  /** Read connections of ended sessions, for the next session that logs in alike. */
  parked?: ParkedReads;
  /** The source's answer-shaping defaults by session start-up, for a few seconds. */
  readDefaults?: DefaultsCache;
}

export type SourceSpec =
  | { kind: 'postgres'; endpoint: PgEndpoint; database: string; user: string; password: string }
  | { kind: 'sqlite'; path: string };

export interface SessionContext {
  log: Logger;
  live: LiveState;
  auth: AuthMethod;
  credentials: Credentials;
  cancels: CancelRegistry;
  source: SourceSpec;
  /** Client database name → source database name. */
  databaseMap: Record<string, { source?: string; target?: string }>;
  tls: tls.SecureContext | null;
  maxMessageSize: number;
  stats: ProxyStats;
  openSqlite?: (file: string, startup: Record<string, string>) => Promise<Duplex>;
  mirror: MirrorRuntime | null;
}

const CLIENT_PARAMS_NOT_FORWARDED = new Set(['user', 'database', 'replication', 'cutover.route']);
const STARTUP_TIMEOUT_MS = 30_000;
/** How long the byte relay waits, after the client's Terminate, for the server to answer what came before it and close. */
const TERMINATE_WAIT_MS = 5_000;

export class Session {
  private client: Socket;
  private backend: Duplex | null = null;
  private backendKey: CancelTarget | null = null;
  private proxyKey: { pid: number; secret: number } | null = null;
  private closed = false;
  /** The client has gone; the session ends once the relay has carried out what it sent (clientGone). */
  private hangingUp = false;
  private draining = false;
  /** Requests sent to the server whose ReadyForQuery has not come back. */
  private outstanding = 0;
  private txStatus = 0x49; // 'I'
  private relay: Relay | null = null;
  private startup: Record<string, string> = {};
  private secret: UpstreamSecret = { kind: 'none' };
  /** The database `backend` is connected to. */
  private side: Side = 'legacy';
  private route: SessionRoute = 'auto';
  /**
   * On the database the migration moves (the source URL's, or one the
   * `databases` map renames to it). Another database on the same server has
   * no capture, so mirroring its writes would fail every COMMIT: its sessions
   * are relayed to the legacy server as they are, as if the proxy were not there.
   */
  private migrated = true;
  /** What the source reported at start-up (ParameterStatus), as the client was told. */
  private startParameters: Map<string, string> | null = null;
  user = '';
  database = '';

  constructor(socket: Socket, private readonly ctx: SessionContext, private readonly onEnd: (s: Session) => void) {
    this.client = socket;
    socket.setNoDelay(true);
    socket.on('error', () => this.clientGone());
  }

  /** Inside a transaction or with work in flight (promote waits until no session is). */
  get busy(): boolean {
    if (this.relay) return this.relay.busy;
    return this.backend !== null && !this.idle;
  }

  /** Idle: no request in flight and no transaction open. */
  get idle(): boolean {
    if (this.relay) return this.relay.idle;
    return this.outstanding === 0 && this.txStatus === 0x49;
  }

  async run(): Promise<void> {
    const reader = new ClientReader(this.client);
    const timer = setTimeout(() => this.refuse('08P01', 'start-up did not complete in time'), STARTUP_TIMEOUT_MS);
    try {
      const startup = await this.readStartup(reader);
      if (!startup) return;
      await this.authenticateAndConnect(reader, startup);
    } catch (e) {
      this.handleStartupError(e);
      return;
    } finally {
      clearTimeout(timer);
    }
  }

  private async readStartup(reader: ClientReader): Promise<Record<string, string> | null> {
    // an encryption request is answered once, as PostgreSQL 15 answers it: repeated, it is taken for the start-up
    // packet it stands in place of, and refused as an unknown protocol version (the other kind may follow a refusal)
    let sslDone = false;
    let gssDone = false;
    for (;;) {
      const packet = await reader.startupPacket();
      const code = packet.readInt32BE(4);
      if (code === SSL_REQUEST && !sslDone) {
        sslDone = true;
        // inside TLS a GSSENCRequest is refused too (one encryption at a time)
        gssDone = Boolean(this.ctx.tls);
        this.client.write(this.ctx.tls ? 'S' : 'N');
        // bytes behind the SSLRequest came unencrypted, perhaps from a man in the middle: taken as the TLS
        // session's, a start-up and queries injected there ran as the client (CVE-2021-23214 on PostgreSQL,
        // which refuses them whatever it answered)
        if (reader.buffered) throw new FrameError('received unencrypted data after SSL request');
        if (this.ctx.tls) {
          const secure = new tls.TLSSocket(this.client, { isServer: true, secureContext: this.ctx.tls });
          secure.on('error', () => this.close());
          this.client = secure;
          reader.switchSocket(secure);
        }
        continue;
      }
      if (code === GSSENC_REQUEST && !gssDone) {
        gssDone = true;
        sslDone = false;
        this.client.write('N');
        if (reader.buffered) throw new FrameError('received unencrypted data after GSSAPI encryption request');
        continue;
      }
      if (code === CANCEL_REQUEST) {
        if (packet.length === 16) this.ctx.cancels.cancel(packet.readInt32BE(8), packet.readInt32BE(12));
        this.client.end();
        this.finish();
        return null;
      }
      if (code >> 16 !== 3) {
        throw new FrameError(`unsupported frontend protocol ${code >> 16}.${code & 0xffff}: server supports 3.0`, '0A000');
      }
      const params = parseStartupParams(packet);
      // a newer client (3.2: PostgreSQL 18's libpq) or protocol options: told what is spoken, as PostgreSQL
      // does, so it does not take 3.0 for what it asked; the options go no further
      const options = Object.keys(params).filter((k) => k.startsWith('_pq_.'));
      if ((code & 0xffff) !== 0 || options.length) {
        this.client.write(negotiateProtocolVersion(0, options));
        for (const k of options) delete params[k];
      }
      return params;
    }
  }

  private async authenticateAndConnect(reader: ClientReader, params: Record<string, string>): Promise<void> {
    refuseReplication(params.replication);
    const user = params.user;
    if (!user) throw new AuthFailed('no PostgreSQL user name specified in startup packet', '28000');
    this.user = user;
    this.database = params.database || (this.ctx.source.kind === 'postgres' ? this.ctx.source.database : user);

    const send = (b: Buffer) => this.client.write(b);
    let secret: UpstreamSecret;
    const cred = await this.ctx.credentials.lookup(user);
    secret = await authenticateClient(this.ctx.auth, user, cred, send, () => reader.message(this.ctx.maxMessageSize));
    if (secret.kind === 'none' && this.ctx.source.kind === 'postgres' && user === this.ctx.source.user) {
      secret = { kind: 'password', password: this.ctx.source.password };
    }

    // `-c cutover.route=…` in options (PGOPTIONS): the proxy's, as the start-up parameter of that name is
    if (params.options !== undefined) {
      const { route, rest } = takeRouteOption(params.options);
      if (route !== undefined) {
        params['cutover.route'] ??= route;
        if (rest) params.options = rest;
        else delete params.options;
      }
    }
    const startup: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) if (!CLIENT_PARAMS_NOT_FORWARDED.has(k)) startup[k] = v;
    startup.user = user;
    startup.database = this.ctx.databaseMap[this.database]?.source ?? this.database;
    this.migrated = this.ctx.source.kind !== 'postgres' || startup.database === this.ctx.source.database;
    this.startup = startup;
    this.secret = secret;
    const requested = params['cutover.route'];
    if (requested !== undefined && requested !== 'auto' && requested !== 'source' && requested !== 'target') {
      throw new AuthFailed(`invalid value for parameter "cutover.route": "${requested}" (expected auto, source or target)`, '22023');
    }
    this.route = (requested as SessionRoute | undefined) ?? this.ctx.mirror?.defaultRoute ?? 'auto';

    const src = this.ctx.source;
    const out: Buffer[] = [];
    // after promote the session starts on the new database (an SQLite source included: PostgreSQL answers its start-up)
    const startOn: Side = this.ctx.mirror && this.migrated ? this.ctx.live.get().sourceOfTruth : 'legacy';
    if (src.kind === 'postgres' || startOn === 'new') {
      this.side = startOn;
      const { conn, cancel } = await this.connectSide(this.side);
      this.backend = conn.socket;
      this.backendKey = cancel;
      this.startParameters = conn.parameters;
      out.push(...conn.startupMessages);
      this.ctx.stats.sourceUp();
      this.proxyKey = this.ctx.cancels.register(() => (this.relay ? this.relay.cancelTargets() : this.backendKey ? [this.backendKey] : []), cancel.pid);
      out.push(backendKeyData(this.proxyKey.pid, this.proxyKey.secret), readyForQuery('I'));
      this.client.write(Buffer.concat(out));
      for (const b of conn.leftover) this.client.write(b);
    } else {
      if (!this.ctx.openSqlite) throw new BackendUnavailable('the SQLite source engine is not available in this build');
      // the engine speaks its own start-up (AuthenticationOk … ReadyForQuery) on the stream
      this.backend = await this.ctx.openSqlite(src.path, startup);
      this.ctx.stats.sourceUp();
      // the client cancels with the engine's key: a read routed to the new database must hear it too
      const key = (this.backend as Duplex & { key?: { pid: number; secret: number } }).key;
      if (key) {
        this.ctx.cancels.adopt(key.pid, key.secret, () => this.relay?.cancelTargets() ?? []);
        this.proxyKey = key;
      }
      // that ReadyForQuery answers no client request: counted as one in flight, so the plain relay
      // sees the session idle after it (and can move it to the message relay when mirroring starts)
      this.outstanding = 1;
    }
    if (this.closed) {
      this.backend.destroy();
      return;
    }
    this.ctx.log.debug({ user, database: this.database, ...(this.migrated ? {} : { relayedAsIs: 'not the migration\'s database' }) }, 'session started');
    // A client that hung up while the proxy logged in to the server for it (pgx and pgxpool cancelling a
    // connect) gets no further 'end' or 'close': those went to the start-up reader, and the relay's own
    // listeners come too late. Without this the session and its server connection stayed open for good.
    const ended = reader.ended;
    const pending = reader.release();
    if (this.wantsMessageRelay()) this.startMessageRelay(pending, this.startParameters);
    else this.startRelay(pending);
    // what it sent before hanging up is carried out first, as PostgreSQL runs what arrived before the end
    if (ended) this.clientGone();
  }

  /** How a session connection to one database logs in: where, and with which start-up parameters (see the top of this file). */
  private sideStartup(side: Side, settings: Record<string, string>) {
    const src = this.ctx.source;
    const m = this.ctx.mirror;
    const onNew = side === 'new' && m;
    // an SQLite legacy side is an engine session, not a connection (reopenSqlite)
    if (!onNew && src.kind !== 'postgres') throw new BackendUnavailable('an SQLite source has no server to connect to');
    const endpoint = onNew ? m.target.endpoint : (src as Extract<SourceSpec, { kind: 'postgres' }>).endpoint;
    // an SQLite source has no database names of its own: the target URL's database, unless mapped
    const sameName = src.kind === 'postgres' ? this.database : (m?.target.database ?? this.database);
    // The new database's session logs in as the target URL's role but runs as the client's (the startup
    // parameter `role`, as SET ROLE, and what RESET/DISCARD ALL return to): privileges and row-level
    // security apply to routed reads as on the source. An SQLite source has no roles: the target's own.
    const asClient: Record<string, string> = onNew && src.kind === 'postgres' && this.startup.user !== m.target.user ? { role: this.startup.user! } : {};
    // marks the proxy's sessions for capture's DDL guard (pg-capture.ts), which refuses DDL run inside
    // functions and DO blocks on the source of truth unless the proxy lets DDL through
    const marks: Record<string, string> = m ? { 'cutover.proxied': 'on', ...(m.allowDdl ? { 'cutover.allow_ddl': 'on' } : {}) } : {};
    const startup = onNew ? { ...this.startup, ...settings, user: m.target.user, database: this.ctx.databaseMap[this.database]?.target ?? sameName, ...asClient, ...marks } : { ...this.startup, ...settings, ...marks };
    return { endpoint, startup, secret: onNew ? m.target.secret : this.secret, asClient };
  }

  /** What a parked read connection must have started up as to serve this session (parked-reads.ts). */
  private readKey(side: Side, settings: Record<string, string>): string {
    const { endpoint, startup } = this.sideStartup(side, settings);
    return JSON.stringify([side, endpoint.host, endpoint.port, byName(startup)]);
  }

  /** A session connection to one database, logged in as described at the top of this file. */
  private async connectSide(side: Side, settings: Record<string, string> = {}): Promise<{ conn: BackendConnection; cancel: CancelTarget }> {
    const m = this.ctx.mirror;
    const { endpoint, startup, secret, asClient } = this.sideStartup(side, settings);
    let conn: BackendConnection;
    try {
      conn = await connectBackend({ endpoint, startup, secret, maxMessageSize: this.ctx.maxMessageSize });
    } catch (e) {
      // a setting the other server cannot take (a locale or a text search configuration it lacks): its own default for that one
      if (Object.keys(settings).length && e instanceof BackendStartupError && (e.code === '22023' || e.code === '42704')) return this.connectSide(side, withoutNamed(settings, e.message));
      // no such role there, or the target's role may not act as it: this session's reads stay on the source
      if ('role' in asClient && e instanceof BackendStartupError && (e.code === '22023' || e.code === '42501' || e.code === '42704')) {
        throw new TargetRoleUnavailable(`the new database does not let ${m!.target.user} act as role ${asClient.role!}: ${e.message}`);
      }
      throw e;
    }
    return { conn, cancel: { host: endpoint.host, port: endpoint.port, pid: conn.pid, secret: conn.secret } };
  }

  /**
   * A new engine session on the SQLite file, its start-up tail (ParameterStatus
   * … ReadyForQuery) taken off the stream: the client already had its own
   * start-up. The engine writes that tail synchronously when it opens, so it is
   * all in the stream's buffer now.
   */
  private async reopenSqlite(file: string): Promise<Duplex> {
    if (!this.ctx.openSqlite) throw new BackendUnavailable('the SQLite source engine is not available in this build');
    const stream = await this.ctx.openSqlite(file, this.startup);
    const head = stream.read() as Buffer | null;
    const endsReady = head !== null && head.length >= 6 && head[head.length - 6] === 0x5a && head.readInt32BE(head.length - 5) === 5;
    if (!endsReady) {
      stream.destroy();
      throw new BackendUnavailable('the SQLite engine did not complete its start-up');
    }
    return stream;
  }

  /** Mirroring, read routing or a moved source of truth needs the message-level relay; plain passthrough does not. */
  private wantsMessageRelay(): boolean {
    const m = this.ctx.mirror;
    if (!m || !this.migrated) return false;
    const live = this.ctx.live.get();
    return this.ctx.live.mirroringActive || live.readPercent > 0 || this.route !== 'auto' || live.sourceOfTruth !== this.side || live.paused;
  }

  /** `reported`: the settings the client was told at start-up (not after the byte relay, which reads no reports). */
  private startMessageRelay(pending: Buffer | null, reported: Map<string, string> | null = null): void {
    const m = this.ctx.mirror!;
    const link = new BackendLink('source', this.backend!);
    for (const [name, value] of reported ?? []) link.reported.set(name.toLowerCase(), value);
    link.cancelKey = this.backendKey;
    const openSide = async (side: Side, settings: Record<string, string> = {}) => {
      // rollback after promote brings an SQLite source back: the session's own engine connection again
      if (side === 'legacy' && this.ctx.source.kind === 'sqlite') return { stream: await this.reopenSqlite(this.ctx.source.path), cancel: null };
      const { conn, cancel } = await this.connectSide(side, settings);
      return { stream: conn.socket as Duplex, cancel };
    };
    const relay = new Relay(this.client, link, {
      live: this.ctx.live,
      log: this.ctx.log,
      maxMessageSize: this.ctx.maxMessageSize,
      guard: () => m.guard(),
      side: this.side,
      openSide,
      readSettings: async (source, side) => {
        if (this.ctx.source.kind !== 'sqlite') {
          if (!m.readDefaults) return sourceDefaults(source);
          return m.readDefaults.get(JSON.stringify([side, this.database, byName(this.startup)]), () => sourceDefaults(source));
        }
        // an SQLite source is asked nothing: its defaults are the engine's, with the client's start-up parameters;
        // reads of the file itself (after promote) go to an engine session, which takes no start-up settings
        return side === 'new' ? engineDefaults(this.startup.user ?? '', this.database, this.startup) : {};
      },
      openReadSide: async (side, settings) => {
        // a PostgreSQL server's connection can be handed on between sessions; an SQLite engine session is not
        const key = side === 'legacy' && this.ctx.source.kind === 'sqlite' ? undefined : this.readKey(side, settings);
        const parked = key !== undefined ? m.parked?.take(key) : null;
        if (parked) return { stream: parked.link.stream, link: parked.link, cancel: parked.cancel, key, ...(parked.lease ? { lease: parked.lease } : {}) };
        if (!m.readSessions) return { ...(await openSide(side, settings)), key };
        const lease = m.readSessions.take(side);
        if (!lease) return null;
        try {
          const opened = await openSide(side, settings);
          opened.stream.once('close', lease.give);
          return { ...opened, lease, key };
        } catch (e) {
          lease.give();
          // no room there (max_connections, or the role's connection limit): a matter of capacity, not of health
          if (e instanceof BackendStartupError && e.code === '53300') {
            m.readSessions.full(side, e.message);
            return null;
          }
          throw e;
        }
      },
      ...(m.parked ? { park: m.parked.park.bind(m.parked) } : {}),
      onSourceDown: () => this.ctx.stats.sourceDown(),
      allowDdl: m.allowDdl,
      sessionRoute: this.route,
      shadowSample: m.shadowSample,
      capture: m.capture,
      recordDirty: m.recordDirty,
      ...(m.commitsRefused ? { commitsRefused: m.commitsRefused } : {}),
      unmirrored: m.unmirrored,
      ...(m.schemaChanging ? { schemaChanging: m.schemaChanging } : {}),
      ...(m.fires ? { fires: m.fires } : {}),
      oids: m.oids,
      sqliteLegacy: this.ctx.source.kind === 'sqlite',
      stats: this.ctx.stats,
    }, (code, message, raw) => this.refuse(code, message, raw));
    this.relay = relay;
    const onClientData = (chunk: Buffer) => {
      // refused: the rest of what the client sends (a too-large message's remaining megabytes) is dropped unread
      if (this.closed) return;
      this.ctx.stats.bytesIn += chunk.length;
      try {
        relay.push(chunk);
      } catch (e) {
        const fe = e as FrameError;
        this.ctx.log.warn({ user: this.user, reason: fe.message }, 'closing session: bad message from client');
        this.refuse(fe.code ?? '08P01', fe.message);
      }
      if (this.draining && relay.idle) this.shutdownNow();
      // PostgreSQL closes the connection at Terminate; a client may wait for that (asyncpg's close() does)
      else if (relay.terminated) this.clientGone();
    };
    this.client.on('data', onClientData);
    this.client.on('end', () => this.clientGone());
    this.client.on('close', () => this.clientGone());
    if (pending) onClientData(pending);
  }

  /**
   * The client hung up (end, close, error). What it sent before is still
   * carried out, as PostgreSQL runs every message that arrived before the end:
   * the message relay works asynchronously, and cutting it off sent Terminate
   * ahead of a COMMIT whose changes were already on the mirror (the mirror
   * kept a transaction the source never committed). Then the session ends; a
   * transaction left open rolls back.
   */
  private clientGone(): void {
    const relay = this.relay;
    if (this.closed || this.hangingUp) return;
    relay?.hangUp();
    if (!relay || relay.quiescent) {
      this.close();
      return;
    }
    this.hangingUp = true;
    const timer = setInterval(() => {
      if (!this.closed && !relay.quiescent) return;
      clearInterval(timer);
      this.close();
    }, 5);
  }

  private startRelay(pending: Buffer | null): void {
    const backend = this.backend!;
    const client = this.client;
    const fromClient = new FrameScanner(this.ctx.maxMessageSize);
    const fromServer = new FrameScanner(Number.MAX_SAFE_INTEGER);
    const stats = this.ctx.stats;
    let terminated = false;
    /** Extended-protocol messages sent since the last Sync: the client is mid-request. */
    let midRequest = false;
    /** From CopyInResponse to its ReadyForQuery: the server swallows Sync and Flush (BackendLink.copyIn). */
    let copyIn = false;
    /**
     * The server's last message was an ErrorResponse with no ReadyForQuery after it. A
     * server that closes then has said why (its FATAL: pg_terminate_backend, a session
     * timeout, shutdown); a second FATAL of ours would reach the client as a stray error.
     */
    let lastWasError = false;

    const visitClient = (type: number) => {
      if (type === 0x51 /* Q */ || type === 0x46 /* F */ || (type === 0x53 /* S */ && !copyIn)) {
        this.outstanding++;
        stats.requests++;
        midRequest = false;
      } else if (type === 0x58 /* X */) terminated = true;
      // copy data belongs to the request that started the COPY
      else if (type !== 0x64 /* d */ && type !== 0x63 /* c */ && type !== 0x66 /* f */ && !copyIn) midRequest = true;
    };
    const visitServer = (type: number, _len: number, first: number) => {
      lastWasError = type === 0x45; /* E */
      if (type === 0x5a /* Z */) {
        this.outstanding--;
        this.txStatus = first;
        copyIn = false;
      } else if (type === 0x47 /* G */ || type === 0x57 /* W */) copyIn = true;
    };

    const onClientData = (chunk: Buffer) => {
      // (what follows a Terminate is not read, as PostgreSQL stops reading there)
      if (this.closed || terminated) return;
      // a session idle since before mirroring (or promote) must not send its next request straight through
      if (this.idle && !midRequest && fromClient.atBoundary && this.wantsMessageRelay()) {
        this.upgrade(onClientData, onServerData, chunk);
        return;
      }
      try {
        fromClient.scan(chunk, visitClient);
      } catch (e) {
        const fe = e as FrameError;
        this.ctx.log.warn({ user: this.user, reason: fe.message }, 'closing session: bad message from client');
        this.refuse(fe.code ?? '08P01', fe.message);
        return;
      }
      stats.bytesIn += chunk.length;
      if (!backend.write(chunk)) {
        client.pause();
        backend.once('drain', () => client.resume());
      }
      // PostgreSQL answers what came before the Terminate, then closes: the session ends when the server has
      // (backend 'close'), the client reading those answers meanwhile. A server that does not close is not waited for long
      if (terminated) setTimeout(() => this.close(), TERMINATE_WAIT_MS).unref();
    };
    const onServerData = (chunk: Buffer) => {
      try {
        fromServer.scan(chunk, visitServer);
      } catch (e) {
        this.refuse('08P01', `bad message from server: ${(e as Error).message}`);
        return;
      }
      stats.bytesOut += chunk.length;
      if (!client.write(chunk)) {
        backend.pause();
        client.once('drain', () => backend.resume());
      }
      if (this.draining && this.idle) this.shutdownNow();
      else if (this.idle && !midRequest && fromClient.atBoundary && this.wantsMessageRelay()) this.upgrade(onClientData, onServerData);
    };

    backend.on('data', onServerData);
    backend.on('error', () => undefined);
    backend.on('close', () => {
      if (this.closed) return;
      if (terminated) {
        this.close();
        return;
      }
      // The server went away under the session: tell the client why, at a message boundary only.
      if (fromServer.atBoundary && !lastWasError) client.write(fatal('08006', 'lost connection to the source database'));
      // a server that said why (its FATAL: this session terminated, a timeout, a bad message) ended one
      // session, and is no less reachable for it: the next connection attempt tells
      if (!lastWasError) this.ctx.stats.sourceDown();
      this.close();
    });
    client.on('data', onClientData);
    client.on('end', () => this.close());
    client.on('close', () => this.close());
    if (pending) onClientData(pending);
  }

  /** Between requests, move from the byte relay to the message relay (mirroring was switched on). */
  private upgrade(onClientData: (b: Buffer) => void, onServerData: (b: Buffer) => void, pending: Buffer | null = null): void {
    this.backend!.off('data', onServerData);
    this.backend!.removeAllListeners('close');
    this.client.off('data', onClientData);
    this.client.removeAllListeners('end');
    this.client.removeAllListeners('close');
    this.client.on('error', () => this.clientGone());
    this.startMessageRelay(pending);
  }

  /** SIGTERM: end the session as soon as it is idle (now, if it is). */
  drain(): void {
    this.draining = true;
    if (this.backend && this.idle) this.shutdownNow();
    else if (!this.backend) this.refuse('57P01', 'terminating connection because the proxy is shutting down');
    else if (this.relay) {
      // the message relay finishes requests asynchronously (mirror applies): look again until idle
      const timer = setInterval(() => {
        if (this.closed) clearInterval(timer);
        else if (this.idle) {
          clearInterval(timer);
          this.shutdownNow();
        }
      }, 25);
      timer.unref();
    }
  }

  private shutdownNow(): void {
    this.refuse('57P01', 'terminating connection because the proxy is shutting down');
  }

  /** FATAL error to the client (`raw`: one the server sent), then close. */
  refuse(code: string, message: string, raw?: Buffer): void {
    if (this.closed) return;
    this.relay?.flushAnswers();
    if (this.client.writable) this.client.write(raw ?? fatal(code, message));
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // after promote the relay's source of truth may be another connection than the first
    const backend = this.relay?.sourceStream ?? this.backend;
    this.relay?.close();
    if (backend && !backend.destroyed) {
      backend.end(terminateMessage());
      const b = backend;
      setTimeout(() => b.destroy(), 1_000).unref();
    }
    this.client.end();
    const c = this.client;
    setTimeout(() => c.destroy(), 1_000).unref();
    this.finish();
  }

  private finish(): void {
    if (this.proxyKey) this.ctx.cancels.unregister(this.proxyKey.pid);
    this.proxyKey = null;
    this.closed = true;
    this.onEnd(this);
  }

  private handleStartupError(e: unknown): void {
    if (e instanceof ClientGone) return this.close();
    if (e instanceof BackendStartupError) {
      if (e.errorMessage.length) this.client.write(e.errorMessage);
      else this.client.write(fatal(e.code, e.message));
      this.ctx.log.info({ user: this.user, code: e.code }, 'source refused the session');
      return this.close();
    }
    if (e instanceof AuthFailed) {
      // only the user name: never what the client sent
      this.ctx.log.warn({ user: this.user, code: e.code }, 'authentication failed');
      return this.refuse(e.code, e.message);
    }
    if (e instanceof BackendUnavailable || e instanceof CredentialLookupError) {
      this.ctx.stats.sourceDown();
      this.ctx.log.warn({ user: this.user, reason: e.message }, 'source database unavailable');
      return this.refuse('08006', `the source database is unavailable: ${e.message}`);
    }
    if (e instanceof FrameError) {
      this.ctx.log.warn({ reason: e.message }, 'bad start-up from client');
      return this.refuse(e.code, e.message);
    }
    if (e instanceof PgError) {
      // the SQLite engine refused a start-up parameter (an encoding it cannot serve): the client's to fix
      this.ctx.log.info({ user: this.user, code: e.code, reason: e.message }, 'start-up refused');
      return this.refuse(e.code, e.message);
    }
    this.ctx.log.error({ err: e, user: this.user }, 'session failed during start-up');
    this.refuse('XX000', `internal proxy error: ${(e as Error).message}`);
  }
}

function parseStartupParams(packet: Buffer): Record<string, string> {
  const params: Record<string, string> = {};
  let i = 8;
  for (;;) {
    if (i >= packet.length) throw new FrameError('invalid startup packet layout: expected terminator as last byte');
    if (packet[i] === 0) break;
    const kEnd = packet.indexOf(0, i);
    if (kEnd < 0) throw new FrameError('invalid startup packet layout: unterminated parameter name');
    const vEnd = packet.indexOf(0, kEnd + 1);
    if (vEnd < 0) throw new FrameError('invalid startup packet layout: unterminated parameter value');
    params[packet.toString('utf8', i, kEnd)] = packet.toString('utf8', kEnd + 1, vEnd);
    i = vEnd + 1;
  }
  if (i !== packet.length - 1) throw new FrameError('invalid startup packet layout: expected terminator as last byte');
  return params;
}

/** Start-up parameters in name order: the same start-up gives the same key, whatever order the client sent them in. */
function byName(params: Record<string, string>): [string, string][] {
  return Object.entries(params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `settings` without the one a start-up error names (`invalid value for parameter "x"`), or none if it names none of them. */
function withoutNamed(settings: Record<string, string>, message: string): Record<string, string> {
  const named = /parameter "([^"]+)"/.exec(message)?.[1]?.toLowerCase();
  const rest = Object.entries(settings).filter(([k]) => k.toLowerCase() !== named);
  return rest.length < Object.keys(settings).length ? Object.fromEntries(rest) : {};
}
