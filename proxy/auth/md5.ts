// PostgreSQL md5 authentication: the stored form is "md5" + md5(password + user),
// and the wire answer is "md5" + md5(stored-hex + salt). Knowing the stored
// form is enough for both checking a client and logging in to a server.
import { createHash, timingSafeEqual } from 'node:crypto';

const md5hex = (data: Buffer | string) => createHash('md5').update(data).digest('hex');

export function md5Stored(password: string, user: string): string {
  return 'md5' + md5hex(password + user);
}

export function md5Answer(stored: string, salt: Buffer): string {
  return 'md5' + md5hex(Buffer.concat([Buffer.from(stored.slice(3), 'utf8'), salt]));
}

export function md5Check(answer: string, stored: string, salt: Buffer): boolean {
  const want = Buffer.from(md5Answer(stored, salt));
  const got = Buffer.from(answer);
  return got.length === want.length && timingSafeEqual(got, want);
}
