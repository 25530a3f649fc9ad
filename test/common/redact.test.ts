// Secret masking in text (redactUrl): a password that is an ordinary word was
// masked wherever the word appeared, so with the password `postgres` every
// `postgres://` read `***://` and `user "postgres"` read `user "***"`. It is
// now masked where it stands as a password, and nowhere is a secret left out.
import { describe, expect, it } from 'vitest';
import { parseDbUrl, redactUrl } from '../../common/urls.ts';

describe('masking an ordinary-word password', () => {
  it('leaves the word alone where it is not a password', () => {
    parseDbUrl('postgres://app:postgres@db.internal:5432/app');
    expect(redactUrl('cannot connect to postgres://app@db.internal:5432/app')).toBe('cannot connect to postgres://app@db.internal:5432/app');
    expect(redactUrl('password authentication failed for user "postgres"')).toBe('password authentication failed for user "postgres"');
    expect(redactUrl('state: not a Redis URL: postgres://h/db')).toBe('state: not a Redis URL: postgres://h/db');
  });

  it('masks it wherever it stands as a password: URL userinfo of any scheme, key=value, conninfo, JSON', () => {
    parseDbUrl('postgres://app:postgres@db.internal:5432/app');
    expect(redactUrl('mysql://u:postgres@h/db')).toBe('mysql://u:***@h/db');
    expect(redactUrl('postgres://app:postgres@db.internal:5432/app')).toBe('postgres://app:***@db.internal:5432/app');
    expect(redactUrl('host=h user=app password=postgres dbname=app')).toBe('host=h user=app password=*** dbname=app');
    expect(redactUrl("host=h password='postgres' dbname=app")).toBe("host=h password='***' dbname=app");
    expect(redactUrl('PGPASSWORD=postgres pg_dump')).toBe('PGPASSWORD=*** pg_dump');
    expect(redactUrl('{"user":"app","password":"postgres"}')).toBe('{"user":"app","password":"***"}');
    expect(redactUrl('http://h/x?password=postgres&a=1')).toBe('http://h/x?password=***&a=1');
    // a URL the scanner cannot read (no scheme): the userinfo form still gives the password away
    expect(redactUrl('bad target app:postgres@db.internal/app')).toBe('bad target app:***@db.internal/app');
  });

  it('a password that is not an ordinary word is still masked wherever it appears, and unknown ones where they stand', () => {
    parseDbUrl('postgres://app:Zq9-x!w@h/db');
    expect(redactUrl('syntax error at or near "Zq9-x!w"')).toBe('syntax error at or near "***"');
    parseDbUrl('postgres://app:correct%20horse@h/db');
    expect(redactUrl('password=correct horse host=h')).toBe('password=*** host=h');
    expect(redactUrl("password='never seen before' host=h")).toBe("password='***' host=h");
    expect(redactUrl('password = "x y" host=h')).toBe('password = "***" host=h');
  });
});

describe('a --source that is not a URL', () => {
  it('is not echoed when it has no scheme (it may be the password pasted in the wrong place); a URL-like one is, masked', () => {
    expect(() => parseDbUrl('Zq-Pasted-Pw-99', 'source')).toThrow('source: not a URL (no scheme://) (expected postgres://user:pass@host:port/db or sqlite:///path.db)');
    expect(() => parseDbUrl('postgres://app:Zq-Pasted-Pw-99@h:99999/db', 'source')).toThrow('source: not a URL: postgres://app:***@h:99999/db');
    // a colon made the text before it a scheme, echoed as unsupported
    expect(() => parseDbUrl('Zq-Pasted:Pw-99', 'source')).toThrow('source: not a URL (no scheme://)');
    expect(() => parseDbUrl('mysql://h/db', 'source')).toThrow('source: unsupported scheme "mysql" (expected postgres:// or sqlite:)');
  });
});
