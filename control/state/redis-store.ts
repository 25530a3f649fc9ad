// The state store in Redis, for a fleet of proxies sharing one migration:
// the record under cutover:state (JSON with a version), the audit log in the
// list cutover:audit, and every change published on the channel cutover:changes
// so each proxy applies it at once. A change is a compare-and-set on the
// version in one Lua script: set, append audit rows, publish — all or nothing.
import { Redis } from 'ioredis';
import { ConfigError } from '../../common/config.ts';
import { redactUrl } from '../../common/urls.ts';
import { speaksPlainRedis } from './plain-redis-probe.ts';
import { applyMutation, initialRecord, type AuditEntry, type Changed, type ControlRecord, type Mutation, type StateStore } from './store.ts';

const STATE = 'cutover:state';
const AUDIT = 'cutover:audit';
const CHANNEL = 'cutover:changes';
const AUDIT_KEEP = 10_000;

const CAS = `
local cur = redis.call('GET', KEYS[1])
local v = 0
if cur then v = cjson.decode(cur).version end
if v ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
for i = 4, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('LTRIM', KEYS[2], -${AUDIT_KEEP}, -1)
redis.call('PUBLISH', ARGV[3], ARGV[2])
return 1`;

/** Redis refused the credentials in the URL (or wanted some): a configuration error, not an outage. */
export class StoreAuthFailed extends ConfigError {}

/** A rediss:// URL for a server without TLS: a configuration error, not an outage. */
export class StoreTlsMismatch extends ConfigError {}

// WRONGPASS: a wrong password (Redis 6+, ACL users too); NOAUTH: the server wants one and none was given;
// "invalid password": Redis before 6
const AUTH_FAILURE = /^(WRONGPASS|NOAUTH)\b|invalid (username-)?password/i;
const isAuthFailure = (e: Error) => AUTH_FAILURE.test(e.message);

const METRICS_KEY = 'cutover:metrics';
const METRICS_FRESH_MS = 15_000;

export class RedisStateStore implements StateStore {
  readonly kind = 'redis';
  readonly where: string;
  private readonly health: ((up: boolean, reason: string) => void)[] = [];
  private sub: Redis | null = null;
  /** Why the connection is down, as the connection said (ECONNREFUSED …): a command refused meanwhile says only "Stream isn't writeable". */
  private lastError: string | null = null;

  /** A command, its refusal while disconnected explained by the connection's own error. */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (e) {
      if (this.redis.status !== 'ready' && this.lastError && /Stream isn't writeable/.test((e as Error).message)) throw new Error(`not connected (${this.lastError})`);
      throw e;
    }
  }

  private constructor(url: string, private readonly redis: Redis, private readonly initialReads: number) {
    this.where = redactUrl(url);
    const down = (reason: string) => () => this.health.forEach((h) => h(false, reason));
    redis.on('error', (e: Error) => {
      this.lastError = e.message;
      down(e.message)();
    });
    redis.on('ready', () => (this.lastError = null));
    redis.on('close', down('connection closed'));
    redis.on('ready', () => this.health.forEach((h) => h(true, 'redis ready')));
  }

  /** Each proxy's metrics under its id, with the time they were taken: stale entries (a dead proxy) are left out. */
  async shareMetrics(proxyId: string, metricsJson: string): Promise<void> {
    await this.call(() => this.redis.hset(METRICS_KEY, proxyId, JSON.stringify({ at: Date.now(), metrics: metricsJson })));
  }

  async fleetMetrics(): Promise<string[]> {
    const all = await this.call(() => this.redis.hgetall(METRICS_KEY));
    const fresh = Date.now() - METRICS_FRESH_MS;
    return Object.values(all).map((v) => JSON.parse(v) as { at: number; metrics: string }).filter((e) => e.at >= fresh).map((e) => e.metrics);
  }

  /**
   * Connects (waiting up to `waitMs`); a store that is not reachable yet is returned anyway and keeps
   * retrying. A refused password is not something retrying mends: that is an error at once.
   */
  static async open(url: string, initialReads = 0, waitMs = 2_000): Promise<RedisStateStore> {
    const redis = new Redis(url, {
      // fail fast while disconnected: a proxy keeps its last state rather than queueing changes
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      retryStrategy: (times) => Math.min(100 * times, 1_000),
    });
    const store = new RedisStateStore(url, redis, initialReads);
    // ioredis reports a wrong password as an 'error' event and reconnects for ever; the command
    // that then failed said only "Stream isn't writeable"
    const refused = redis.status === 'ready' ? null : await new Promise<Error | null>((resolve) => {
      const done = (e: Error | null) => {
        clearTimeout(t);
        redis.off('ready', onReady);
        redis.off('error', onError);
        resolve(e);
      };
      const onReady = () => done(null);
      const onError = (e: Error) => {
        if (isAuthFailure(e)) done(e);
      };
      const t = setTimeout(onReady, waitMs);
      redis.once('ready', onReady);
      redis.on('error', onError);
    });
    if (refused) {
      await store.close();
      throw new StoreAuthFailed(`state store ${store.where}: authentication failed (${refused.message.trim()}); check the password in --state`);
    }
    // not something retrying mends either: the proxy would run degraded for good, a command fail as "unreachable"
    if (!store.connected && /^rediss:/i.test(url)) {
      const u = new URL(url);
      if (await speaksPlainRedis(u.hostname.replace(/^\[|\]$/g, ''), Number(u.port || 6379))) {
        await store.close();
        throw new StoreTlsMismatch(`state store ${store.where}: the server speaks plain Redis, not TLS: use redis:// (rediss:// is Redis over TLS), or enable TLS on the server`);
      }
    }
    return store;
  }

  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  /** Whether the migration's record is there (a proxy has written it). */
  async hasRecord(): Promise<boolean> {
    return (await this.call(() => this.redis.exists(STATE))) === 1;
  }

  async load(): Promise<ControlRecord> {
    const raw = await this.call(() => this.redis.get(STATE));
    return raw ? { ...initialRecord(this.initialReads), ...(JSON.parse(raw) as ControlRecord) } : initialRecord(this.initialReads);
  }

  async change(mutate: Mutation, actor: string, reason: string): Promise<Changed> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const before = await this.load();
      const next = applyMutation(before, mutate, actor, reason);
      if (!next) return { before, after: before, changed: false };
      const ok = await this.call(() => this.redis.eval(CAS, 2, STATE, AUDIT, String(before.version), JSON.stringify(next.after), CHANNEL, ...next.audit.map((a) => JSON.stringify(a))));
      if (ok === 1) return { before, after: next.after, changed: true };
      // another proxy changed the record meanwhile: compute again from the new one
    }
    throw new Error(`state store ${this.where}: too many concurrent changes, try again`);
  }

  async history(limit = 50): Promise<AuditEntry[]> {
    return (await this.call(() => this.redis.lrange(AUDIT, -limit, -1))).map((s) => JSON.parse(s) as AuditEntry);
  }

  subscribe(listener: (record: ControlRecord) => void): () => void {
    // a subscribed connection can do nothing else: its own, resubscribed by ioredis after a reconnect
    // (queued until connected: a SUBSCRIBE sent before the connection is up must not be lost)
    const sub = (this.sub ??= this.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null }));
    sub.on('error', () => undefined);
    const onMessage = (channel: string, message: string) => {
      if (channel !== CHANNEL) return;
      try {
        listener({ ...initialRecord(this.initialReads), ...(JSON.parse(message) as ControlRecord) });
      } catch {
        // a malformed message is ignored: the periodic re-read still converges
      }
    };
    sub.on('message', onMessage);
    void sub.subscribe(CHANNEL).catch(() => undefined);
    return () => void sub.off('message', onMessage);
  }

  onHealth(listener: (up: boolean, reason: string) => void): void {
    this.health.push(listener);
  }

  async close(): Promise<void> {
    this.sub?.disconnect();
    this.redis.disconnect();
  }
}
