// The server side of authentication: the proxy challenges the client (SCRAM by
// default, md5 on request, trust only on loopback) and returns what it needs to
// log in to the databases as that same user.
import { randomBytes } from 'node:crypto';
import { authMd5, authOk, authSasl, authSaslContinue, authSaslFinal } from '../messages.ts';
import { BodyReader, type Message } from '../framing.ts';
import { md5Check, md5Stored } from './md5.ts';
import { mockVerifier, ScramError, ScramServer, verifierForPassword, type ScramKeys } from './scram.ts';
import type { Credential } from './credentials.ts';

export type AuthMethod = 'scram-sha-256' | 'md5' | 'trust';

/** How the proxy may log in to a server as the client's user. */
export type UpstreamSecret =
  | { kind: 'password'; password: string }
  | { kind: 'scram-keys'; keys: ScramKeys }
  | { kind: 'md5-stored'; stored: string }
  | { kind: 'none' };

export class AuthFailed extends Error {
  constructor(message: string, readonly code = '28P01') {
    super(message);
  }
}

/** Reads the next complete client message; rejects if the client goes away. */
export type NextMessage = () => Promise<Message>;

export async function authenticateClient(
  method: AuthMethod,
  user: string,
  cred: Credential | null,
  send: (b: Buffer) => void,
  next: NextMessage,
): Promise<UpstreamSecret> {
  if (method === 'trust') {
    send(authOk());
    if (cred?.kind === 'password') return { kind: 'password', password: cred.password };
    if (cred?.kind === 'md5') return { kind: 'md5-stored', stored: cred.stored };
    return { kind: 'none' };
  }
  // An unknown user still gets a full challenge, so user names cannot be probed.
  const failed = () => new AuthFailed(`password authentication failed for user "${user}"`);

  if (method === 'md5' || cred?.kind === 'md5') {
    const salt = randomBytes(4);
    send(authMd5(salt));
    const answer = passwordBody(await next());
    const stored = cred?.kind === 'md5' ? cred.stored : cred?.kind === 'password' ? md5Stored(cred.password, user) : null;
    if (!stored) {
      if (cred?.kind === 'scram') throw new AuthFailed(`user "${user}" has a SCRAM password; md5 authentication cannot check it (use auth "scram-sha-256")`);
      throw failed();
    }
    if (!md5Check(answer.toString('utf8').replace(/\0$/, ''), stored, salt)) throw failed();
    send(authOk());
    return cred?.kind === 'password' ? { kind: 'password', password: cred.password } : { kind: 'md5-stored', stored };
  }

  const verifier = cred?.kind === 'scram' ? cred.verifier : cred?.kind === 'password' ? verifierForPassword(cred.password) : mockVerifier(user);
  const server = new ScramServer(verifier);
  send(authSasl(['SCRAM-SHA-256']));
  const initial = new BodyReader(expectPassword(await next()).bytes);
  const mechanism = initial.cstring();
  if (mechanism !== 'SCRAM-SHA-256') throw new AuthFailed(`unsupported SASL mechanism "${mechanism}"`, '28000');
  const len = initial.int32();
  const clientFirst = initial.bytes(len).toString('utf8');
  try {
    send(authSaslContinue(server.first(clientFirst)));
    const clientFinal = passwordBody(await next()).toString('utf8');
    const { serverFinal, keys } = server.final(clientFinal);
    if (!cred) throw failed();
    send(authSaslFinal(serverFinal));
    send(authOk());
    return cred.kind === 'password' ? { kind: 'password', password: cred.password } : { kind: 'scram-keys', keys };
  } catch (e) {
    if (e instanceof ScramError) throw failed();
    throw e;
  }
}

function expectPassword(m: Message): Message {
  if (m.type !== 0x70 /* p */) throw new AuthFailed(`expected a password message, got message type "${String.fromCharCode(m.type)}"`, '08P01');
  return m;
}

function passwordBody(m: Message): Buffer {
  return expectPassword(m).bytes.subarray(5);
}
