// The proxy's TCP listener: accepts clients, gives each a Session, health-checks
// the target, and shuts down gracefully (stop accepting, let sessions finish
// their transactions up to the drain timeout).
import { readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { ConfigError, type Config } from '../common/config.ts';
import type { LiveState } from '../common/live-state.ts';
import type { Logger } from '../common/log.ts';
import { parseDbUrl, redactUrl } from '../common/urls.ts';
import { Credentials } from './auth/credentials.ts';
import { CancelRegistry, type WorkerIdentity } from './cancel.ts';
import { Session, type MirrorRuntime, type SessionContext, type SourceSpec } from './session.ts';
import { loadParser } from './classify/classify.ts';
import type { ChangeDrainer } from './mirror/drainer.ts';
import type { TargetGuard } from './mirror/target-guard.ts';
import { MirrorSides } from './mirror/sides.ts';
import { pgCaptureDialect } from './capture/pg-capture.ts';
import { sqliteCaptureDialect } from './capture/sqlite-capture.ts';
import { ProxyStats } from './stats.ts';
import { startTargetHealthCheck } from './target-health.ts';
import { TargetSessions } from './target-sessions.ts';
import { ParkedReads } from './parked-reads.ts';
import { DefaultsCache } from './read-side-settings.ts';
import { UnmirroredRelations } from './mirror/unmirrored-relations.ts';
import { OidMap } from './oid-map.ts';

export interface ProxyServer {
  address: { host: string; port: number };
  stats(): ReturnType<ProxyStats['snapshot']> & { readSessions: ReturnType<TargetSessions['snapshot']> | null };
  sessions(): number;
  /** The mirror's breaker and health (the current direction), when a target is configured. */
  readonly guard: TargetGuard | null;
  /** The drainer of the current source of truth. */
  readonly drainer: ChangeDrainer | null;
  /** Both mirror directions (promote swaps which is current). */
  readonly sides: MirrorSides | null;
  /** Sessions inside a transaction or with work in flight (promote waits for none). */
  busySessions(): number;
  /** Deliver a CancelRequest forwarded from another worker process. */
  cancel(pid: number, secret: number): void;
  /** Stop accepting; sessions end when idle, all of them after `drainMs`. */
  close(drainMs?: number): Promise<void>;
}

export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(s.slice(i + 1)) };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function sourceSpec(url: string): SourceSpec {
  const u = parseDbUrl(url, 'source');
  if (u.kind === 'sqlite') return { kind: 'sqlite', path: u.path };
  return { kind: 'postgres', endpoint: { host: u.host, port: u.port, sslmode: u.sslmode }, database: u.database, user: u.user, password: u.password };
}

interface SqliteEngineModule {
  openSqliteBackend: (file: string, startup: Record<string, string>) => Promise<Duplex>;
  cancelSqliteSession: (pid: number, secret: number) => boolean;
}

async function loadSqliteEngine(): Promise<SqliteEngineModule | undefined> {
  const spec = './sqlite/index.ts';
  try {
    return (await import(spec)) as SqliteEngineModule;
  } catch {
    return undefined;
  }
}

export async function startProxy(cfg: Config, live: LiveState, log: Logger, worker: WorkerIdentity | null = null): Promise<ProxyServer> {
  if (!cfg.source) throw new ConfigError('missing --source (or CUTOVER_SOURCE, or "source" in --config)');
  const source = sourceSpec(cfg.source);
  // SQLite makes a file it is asked to open: a typo in --source served the application a new, empty
  // database (and took its writes), where every other command refuses a missing file
  if (source.kind === 'sqlite' && !statSync(source.path, { throwIfNoEntry: false })?.isFile()) {
    throw new ConfigError(`--source: no SQLite database file at ${source.path}; check the path (to start from an empty database, create the file first: an empty file is one)`);
  }
  const listen = splitHostPort(cfg.listen);
  if (cfg.auth === 'trust' && !isLoopback(listen.host)) {
    throw new ConfigError(`auth "trust" is allowed only on a loopback listener, not on ${cfg.listen}`);
  }
  let secureContext: tls.SecureContext | null = null;
  if (cfg.tlsCert || cfg.tlsKey) {
    if (!cfg.tlsCert || !cfg.tlsKey) throw new ConfigError('TLS needs both --tls-cert and --tls-key');
    try {
      secureContext = tls.createSecureContext({ cert: readFileSync(cfg.tlsCert), key: readFileSync(cfg.tlsKey) });
    } catch (e) {
      throw new ConfigError(`cannot load TLS certificate/key: ${(e as Error).message}`);
    }
  }

  const sqliteEngine = source.kind === 'sqlite' ? await loadSqliteEngine() : undefined;
  const cancels = new CancelRegistry(worker);
  // an SQLite session's key is the engine's own (it writes its start-up): a cancel for it goes there
  cancels.inProcess = sqliteEngine?.cancelSqliteSession ?? null;
  const stats = new ProxyStats();
  const mirror = cfg.target ? await startMirror(cfg, source, cfg.source, cfg.target, live, log) : null;
  const ctx: SessionContext = {
    log,
    live,
    auth: cfg.auth,
    credentials: new Credentials(cfg.users, source.kind === 'postgres' ? cfg.source : null),
    cancels,
    source,
    databaseMap: cfg.databases ?? {},
    tls: secureContext,
    maxMessageSize: cfg.maxMessageSize,
    stats,
    openSqlite: sqliteEngine?.openSqliteBackend,
    mirror: mirror?.runtime ?? null,
  };
  if (source.kind === 'sqlite' && !ctx.openSqlite) throw new ConfigError('--source is an SQLite file, and the SQLite source engine is not available');

  const sessions = new Set<Session>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    stats.sessionsOpened++;
    stats.sessionsOpen++;
    const session = new Session(socket, ctx, (s) => {
      if (sessions.delete(s)) stats.sessionsOpen--;
    });
    sessions.add(session);
    void session.run();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new ConfigError(`cannot listen on ${cfg.listen}: ${e.code ?? e.message}`)));
      server.listen(listen.port, listen.host, () => resolve());
    });
  } catch (e) {
    // nothing serves: the mirror's drainer and pools must not keep the process alive
    await mirror?.stop();
    throw e;
  }
  server.on('error', (e) => log.error({ err: e }, 'listener error'));
  const addr = server.address() as net.AddressInfo;

  const health = cfg.target ? startTargetHealthCheck(cfg.target, stats, log) : null;
  let closing: Promise<void> | undefined;
  log.info({ worker: worker?.index, listen: `${addr.address}:${addr.port}`, source: redactUrl(cfg.source), target: cfg.target ? redactUrl(cfg.target) : null }, 'proxy listening');

  return {
    address: { host: addr.address, port: addr.port },
    get guard() {
      return mirror?.sides.current.guard ?? null;
    },
    get drainer() {
      return mirror?.sides.current.drainer ?? null;
    },
    sides: mirror?.sides ?? null,
    busySessions: () => [...sessions].filter((s) => s.busy).length,
    stats: () => ({ ...stats.snapshot(), readSessions: mirror?.runtime.readSessions?.snapshot() ?? null }),
    sessions: () => sessions.size,
    cancel: (pid, secret) => void ctx.cancels.cancel(pid, secret),
    close: (drainMs = cfg.drainTimeout * 1000) => (closing ??= shutdown(drainMs)),
  };

  async function shutdown(drainMs: number): Promise<void> {
    // stop accepting now; the listener's own callback waits for every connection, so do not wait on it
    server.close();
    for (const s of sessions) s.drain();
    const deadline = Date.now() + drainMs;
    while (sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    for (const s of [...sessions]) s.refuse('57P01', 'terminating connection because the proxy is shutting down');
    health?.stop();
    await mirror?.stop();
    await ctx.credentials.close();
  }
}

/** Mirroring and routing: mirror applier, breaker, drainer, and target sessions for routed reads. */
async function startMirror(cfg: Config, source: SourceSpec, sourceUrl: string, targetUrl: string, live: LiveState, log: Logger) {
  await loadParser();
  const t = parseDbUrl(targetUrl, 'target');
  if (t.kind !== 'postgres') throw new ConfigError('--target must be a postgres:// URL');
  // an SQLite source captures into the file itself (capture/sqlite-capture.ts); after promote PostgreSQL captures and the file is the mirror
  const sides = await MirrorSides.start({ legacy: sourceUrl, new: targetUrl }, live, log, cfg.mirrorSynchronousCommit, source.kind === 'sqlite' ? source.path : null);
  const unmirrored = new UnmirroredRelations([sourceUrl, targetUrl], log);
  await unmirrored.start();
  const oids = source.kind === 'postgres' ? new OidMap({ legacy: sourceUrl, new: targetUrl }, log) : undefined;
  await oids?.refresh();
  const runtime: MirrorRuntime = {
    unmirrored: (relations) => unmirrored.touches(relations),
    schemaChanging: () => unmirrored.changed(),
    fires: (relations) => unmirrored.fires(relations),
    ...(oids ? { oids } : {}),
    readSessions: new TargetSessions(cfg.targetSessions, { new: targetUrl, legacy: source.kind === 'postgres' ? sourceUrl : undefined }, cfg.processes, log),
    parked: new ParkedReads(),
    readDefaults: new DefaultsCache(),
    guard: () => sides.current.guard,
    allowDdl: cfg.allowDdl,
    defaultRoute: cfg.route,
    shadowSample: cfg.shadowSample,
    capture: (side) => (side === 'legacy' && source.kind === 'sqlite' ? sqliteCaptureDialect : pgCaptureDialect),
    recordDirty: (side, keys) => sides.of(side).drainer.recordDirty(keys),
    commitsRefused: (side, txids) => sides.of(side).drainer.commitsRefused?.(txids),
    // sessions on the new database run as the target URL's role: the target holds its own credentials
    target: { endpoint: { host: t.host, port: t.port, sslmode: t.sslmode }, user: t.user, database: t.database, secret: { kind: 'password', password: t.password } },
  };
  return {
    runtime,
    sides,
    stop: () => {
      unmirrored.stop();
      runtime.readSessions?.stop();
      runtime.parked?.stop();
      return sides.stop();
    },
  };
}

