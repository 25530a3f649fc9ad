// SCRAM-SHA-256 (RFC 5802/7677) on both sides of the proxy, as PgBouncer does:
// as a server it checks a client's proof against the stored verifier and
// recovers the ClientKey from it; as a client it can then log in to a server
// holding the same verifier with that ClientKey, never knowing the password.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export interface ScramVerifier {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** What a successful client exchange leaves behind for logging in to the server. */
export interface ScramKeys {
  clientKey: Buffer;
  verifier: ScramVerifier;
}

const hmac = (key: Buffer, data: string | Buffer) => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** PostgreSQL's pg_authid.rolpassword form: SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>. */
export function parseScramVerifier(s: string): ScramVerifier | null {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(s);
  if (!m) return null;
  return { iterations: Number(m[1]), salt: Buffer.from(m[2]!, 'base64'), storedKey: Buffer.from(m[3]!, 'base64'), serverKey: Buffer.from(m[4]!, 'base64') };
}

/**
 * A small bounded map, oldest entry out first. The salted password (4096
 * rounds of PBKDF2, a few milliseconds of CPU) is derived once per password,
 * salt and round count, not at every log-in: a client that opens a connection
 * per request would otherwise pay it once for the proxy's check and once for
 * each server the proxy logs in to, as PgBouncer avoids by keeping the keys.
 * Entries are keyed by a hash of the password, never the password itself.
 */
class Bounded<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string, make: () => V): V {
    let v = this.map.get(key);
    if (v === undefined) {
      v = make();
      if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
      this.map.set(key, v);
    }
    return v;
  }
}

const passwordId = (password: string) => createHash('sha256').update(password.normalize('NFKC')).digest('base64');
const salted = new Bounded<Buffer>(1024);
const byPassword = new Bounded<ScramVerifier>(1024);
const mocks = new Bounded<ScramVerifier>(1024);

function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return salted.get(`${passwordId(password)}:${salt.toString('base64')}:${iterations}`, () => pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256'));
}

export function verifierFromPassword(password: string, salt = randomBytes(16), iterations = 4096): ScramVerifier {
  const key = saltedPassword(password, salt, iterations);
  const clientKey = hmac(key, 'Client Key');
  return { iterations, salt, storedKey: sha256(clientKey), serverKey: hmac(key, 'Server Key') };
}

/** The verifier the proxy checks a password it holds in plain text against: one salt per password for the process's life, as a stored verifier has. */
export function verifierForPassword(password: string): ScramVerifier {
  return byPassword.get(passwordId(password), () => verifierFromPassword(password));
}

/**
 * The challenge an unknown user gets: the same salt at every attempt, as a
 * real user's (PostgreSQL's mock verifier is as steady), so neither the salt
 * nor the time taken tells a probe which user names exist.
 */
export function mockVerifier(user: string): ScramVerifier {
  return mocks.get(user, () => verifierFromPassword(randomBytes(16).toString('hex')));
}

function clientKeyFromPassword(password: string, salt: Buffer, iterations: number): { clientKey: Buffer; serverKey: Buffer } {
  const key = saltedPassword(password, salt, iterations);
  return { clientKey: hmac(key, 'Client Key'), serverKey: hmac(key, 'Server Key') };
}

function attrs(msg: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of msg.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

export class ScramError extends Error {}

/** Server side of one exchange. */
export class ScramServer {
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';

  constructor(private readonly verifier: ScramVerifier) {}

  /** client-first-message → server-first-message. */
  first(clientFirst: string): string {
    // gs2 header: "n,," or "y,,"; channel binding ("p=") is not offered by us
    const m = /^([ny]),[^,]*,(.*)$/.exec(clientFirst);
    if (!m) throw new ScramError('malformed SCRAM client-first-message');
    this.clientFirstBare = m[2]!;
    const a = attrs(this.clientFirstBare);
    const cnonce = a.get('r');
    if (!cnonce) throw new ScramError('SCRAM client-first-message has no nonce');
    this.nonce = cnonce + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt.toString('base64')},i=${this.verifier.iterations}`;
    return this.serverFirst;
  }

  /** client-final-message → server-final-message and the recovered ClientKey; throws on a wrong proof. */
  final(clientFinal: string): { serverFinal: string; keys: ScramKeys } {
    const a = attrs(clientFinal);
    const proof = a.get('p');
    if (a.get('r') !== this.nonce || !proof) throw new ScramError('SCRAM nonce mismatch');
    const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(',p='));
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const clientSignature = hmac(this.verifier.storedKey, authMessage);
    const proofBytes = Buffer.from(proof, 'base64');
    if (proofBytes.length !== clientSignature.length) throw new ScramError('password authentication failed');
    const clientKey = xor(proofBytes, clientSignature);
    if (!timingSafeEqual(sha256(clientKey), this.verifier.storedKey)) throw new ScramError('password authentication failed');
    const serverSignature = hmac(this.verifier.serverKey, authMessage).toString('base64');
    return { serverFinal: `v=${serverSignature}`, keys: { clientKey, verifier: this.verifier } };
  }
}

/** Client side of one exchange, with a password or with keys recovered from a client. */
export class ScramClient {
  private readonly cnonce = randomBytes(18).toString('base64');
  private clientFirstBare = '';
  private expectedServerSignature: Buffer | null = null;

  constructor(private readonly secret: { password: string } | { keys: ScramKeys }) {}

  first(): string {
    this.clientFirstBare = `n=,r=${this.cnonce}`;
    return `n,,${this.clientFirstBare}`;
  }

  final(serverFirst: string): string {
    const a = attrs(serverFirst);
    const nonce = a.get('r');
    const salt = a.get('s');
    const iterations = Number(a.get('i'));
    if (!nonce || !salt || !iterations || !nonce.startsWith(this.cnonce)) throw new ScramError('malformed SCRAM server-first-message');
    const saltBytes = Buffer.from(salt, 'base64');
    let clientKey: Buffer;
    let serverKey: Buffer;
    if ('password' in this.secret) {
      ({ clientKey, serverKey } = clientKeyFromPassword(this.secret.password, saltBytes, iterations));
    } else {
      const v = this.secret.keys.verifier;
      if (!v.salt.equals(saltBytes) || v.iterations !== iterations) {
        throw new ScramError('the server holds another SCRAM verifier for this role than the one the client was checked against');
      }
      clientKey = this.secret.keys.clientKey;
      serverKey = v.serverKey;
    }
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = hmac(sha256(clientKey), authMessage);
    this.expectedServerSignature = hmac(serverKey, authMessage);
    return `${withoutProof},p=${xor(clientKey, clientSignature).toString('base64')}`;
  }

  verify(serverFinal: string): void {
    const v = attrs(serverFinal).get('v');
    if (!v || !this.expectedServerSignature || !timingSafeEqual(Buffer.from(v, 'base64'), this.expectedServerSignature)) {
      throw new ScramError('server SCRAM signature did not match');
    }
  }
}
