// The mirror's apply connections: raw protocol links (no driver in the hot
// path), each remembering which apply statements it has already prepared.
// Opened on demand up to a cap; a connection that failed or answered an error
// mid-apply is dropped rather than reused; idle ones close after a while.
import { connectBackend, type PgEndpoint } from '../backend-pg.ts';
import { BackendLink, SERVER_MAX_MESSAGE } from '../backend-link.ts';
import { parseDbUrl } from '../../common/urls.ts';


export interface ApplyConn {
  link: BackendLink;
  /** Names of the statements prepared on this connection. */
  prepared: Set<string>;
  idleSince: number;
}

export class ApplyPool {
  private readonly idle: ApplyConn[] = [];
  private readonly waiters: { resolve(c: ApplyConn): void; reject(e: Error): void }[] = [];
  private size = 0;
  private closed = false;
  private readonly endpoint: PgEndpoint;
  private readonly user: string;
  private readonly password: string;
  private readonly database: string;
  private readonly sweeper: NodeJS.Timeout;

  constructor(url: string, private readonly max: number, private readonly options: string, private readonly connectTimeoutMs = 5_000, idleTimeoutMs = 30_000) {
    const u = parseDbUrl(url);
    if (u.kind !== 'postgres') throw new Error(`expected a postgres:// URL, got ${u.kind}`);
    this.endpoint = { host: u.host, port: u.port, sslmode: u.sslmode };
    this.user = u.user;
    this.password = u.password;
    this.database = u.database;
    this.sweeper = setInterval(() => {
      const cutoff = Date.now() - idleTimeoutMs;
      for (const c of this.idle.filter((x) => x.idleSince < cutoff)) this.drop(c);
    }, Math.min(idleTimeoutMs, 10_000));
    this.sweeper.unref();
  }

  /** Opens one connection with this pool's settings (also used to probe what the role may set). */
  static async open(endpoint: PgEndpoint, user: string, password: string, database: string, options: string, timeoutMs: number): Promise<BackendLink> {
    const conn = await connectBackend({
      endpoint,
      startup: { user, database, application_name: 'cutover-mirror', options, client_encoding: 'UTF8' },
      secret: { kind: 'password', password },
      timeoutMs,
      maxMessageSize: SERVER_MAX_MESSAGE,
    });
    conn.socket.setNoDelay(true);
    const link = new BackendLink('target', conn.socket);
    // the server process behind it: an apply abandoned mid-flight is fenced off by it (MirrorApplier.fence)
    link.cancelKey = { host: endpoint.host, port: endpoint.port, pid: conn.pid, secret: conn.secret };
    return link;
  }

  connectOnce(options: string): Promise<BackendLink> {
    return ApplyPool.open(this.endpoint, this.user, this.password, this.database, options, this.connectTimeoutMs);
  }

  async acquire(): Promise<ApplyConn> {
    if (this.closed) throw new Error('mirror apply pool is closed');
    for (let c = this.idle.pop(); c; c = this.idle.pop()) if (!c.link.lost) return c;
    if (this.size < this.max) {
      this.size++;
      try {
        return await this.connect();
      } catch (e) {
        this.size--;
        throw e;
      }
    }
    return new Promise<ApplyConn>((resolve, reject) => {
      const w = { resolve, reject };
      this.waiters.push(w);
      setTimeout(() => {
        const at = this.waiters.indexOf(w);
        if (at >= 0) {
          this.waiters.splice(at, 1);
          reject(new Error('timed out waiting for a mirror apply connection'));
        }
      }, this.connectTimeoutMs).unref();
    });
  }

  private async connect(): Promise<ApplyConn> {
    const link = await this.connectOnce(this.options);
    const c: ApplyConn = { link, prepared: new Set(), idleSince: 0 };
    link.onClose = () => {
      const at = this.idle.indexOf(c);
      if (at >= 0) {
        this.idle.splice(at, 1);
        this.size--;
      }
    };
    return c;
  }

  /** Back to the pool, or closed when it cannot be trusted (`reuse` false). */
  release(c: ApplyConn, reuse: boolean): void {
    if (!reuse || c.link.lost || this.closed) {
      c.link.onClose = () => undefined;
      c.link.destroy();
      this.size--;
      const w = this.waiters.shift();
      if (w && !this.closed) {
        this.size++;
        this.connect().then(w.resolve, (e: Error) => {
          this.size--;
          w.reject(e);
        });
      }
      return;
    }
    const w = this.waiters.shift();
    if (w) {
      w.resolve(c);
      return;
    }
    c.idleSince = Date.now();
    this.idle.push(c);
  }

  private drop(c: ApplyConn): void {
    const at = this.idle.indexOf(c);
    if (at < 0) return;
    this.idle.splice(at, 1);
    this.size--;
    c.link.onClose = () => undefined;
    c.link.destroy();
  }

  async end(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const c of [...this.idle]) this.drop(c);
    for (const w of this.waiters.splice(0)) w.reject(new Error('mirror apply pool is closed'));
  }
}
