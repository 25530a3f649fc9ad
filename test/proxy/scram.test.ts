// SCRAM keys derived once per password and salt (pure logic: both ends of the
// exchange are the proxy's own code, as it speaks them to clients and servers).
import { describe, expect, it } from 'vitest';
import { mockVerifier, ScramClient, ScramError, ScramServer, verifierForPassword, type ScramVerifier } from '../../proxy/auth/scram.ts';

function exchange(password: string, verifier: ScramVerifier): void {
  const client = new ScramClient({ password });
  const server = new ScramServer(verifier);
  const serverFirst = server.first(client.first());
  const { serverFinal } = server.final(client.final(serverFirst));
  client.verify(serverFinal);
}

describe('SCRAM with cached keys', () => {
  it('a password held in plain text gets one verifier for the process, and logs in with it every time', () => {
    const v = verifierForPassword('s3cret pw');
    expect(verifierForPassword('s3cret pw')).toBe(v);
    expect(verifierForPassword('other').salt.equals(v.salt)).toBe(false);
    exchange('s3cret pw', v);
    exchange('s3cret pw', v);
    expect(() => exchange('wrong', v)).toThrow(ScramError);
    // the client side's cached salted password is keyed by salt too: a server with another salt is answered right
    exchange('s3cret pw', verifierForPassword('s3cret pw '.trim()));
  });

  it('an unknown user is challenged with the same salt at every attempt, and no password passes', () => {
    const a = mockVerifier('nobody');
    expect(mockVerifier('nobody').salt.equals(a.salt)).toBe(true);
    expect(mockVerifier('somebody').salt.equals(a.salt)).toBe(false);
    expect(() => exchange('anything', a)).toThrow(ScramError);
  });
});
