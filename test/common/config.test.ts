import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../common/config.ts';
import { parseDbUrl, redactUrl } from '../../common/urls.ts';

function tmpConfig(obj: unknown): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-cfg-'));
  const file = path.join(dir, 'cutover.config.json');
  writeFileSync(file, typeof obj === 'string' ? obj : JSON.stringify(obj));
  return file;
}

describe('configuration layers', () => {
  it('applies defaults from DESIGN.md', () => {
    const cfg = loadConfig({}, {});
    expect(cfg.listen).toBe('127.0.0.1:6432');
    expect(cfg.control).toBe('127.0.0.1:6480');
    expect(cfg.state).toBe('.cutover/state.db');
    expect(cfg.steps).toEqual([10, 25, 50, 75, 90, 100]);
  });

  it('flags override CUTOVER_* env, which overrides the --config file', () => {
    const file = tmpConfig({ reads: 10, listen: '127.0.0.1:7000', control: '127.0.0.1:7001' });
    const env = { CUTOVER_READS: '20', CUTOVER_LISTEN: '127.0.0.1:7100' };
    const cfg = loadConfig({ config: file, reads: '30' }, env);
    expect(cfg.reads).toBe(30);
    expect(cfg.listen).toBe('127.0.0.1:7100');
    expect(cfg.control).toBe('127.0.0.1:7001');
  });

  it('reads list and JSON keys from the environment', () => {
    const cfg = loadConfig({}, { CUTOVER_STEPS: '5, 50,100', CUTOVER_USERS: '[{"name":"app","password":"x"}]', CUTOVER_MAX_MESSAGE_SIZE: '2048' });
    expect(cfg.steps).toEqual([5, 50, 100]);
    expect(cfg.users).toEqual([{ name: 'app', password: 'x' }]);
    expect(cfg.maxMessageSize).toBe(2048);
  });

  it('names an unknown key', () => {
    const file = tmpConfig({ lisen: '127.0.0.1:1' });
    expect(() => loadConfig({ config: file }, {})).toThrow(/unknown configuration key "lisen"/);
  });

  it('names the key holding a bad URL, without echoing its password', () => {
    let err: unknown;
    try {
      loadConfig({ source: 'mysql://u:hunter2@h/db' }, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^invalid source: .*unsupported scheme "mysql"/);
    expect((err as Error).message).not.toContain('hunter2');
  });

  it('rejects a read percent outside 0..100 and a bad listen address', () => {
    expect(() => loadConfig({ reads: '101' }, {})).toThrow(/invalid reads/);
    expect(() => loadConfig({ listen: 'nonsense' }, {})).toThrow(/invalid listen: expected host:port/);
    // a port past 65535 failed only once the proxy had started, with Node's message
    expect(() => loadConfig({ listen: '127.0.0.1:99999' }, {})).toThrow('invalid listen: the port must be at most 65535');
    expect(() => loadConfig({ control: '127.0.0.1:65536' }, {})).toThrow('invalid control: the port must be at most 65535');
    expect(loadConfig({ listen: '[::1]:65535' }, {}).listen).toBe('[::1]:65535');
  });

  it('reads booleans and numbers as written, in text or JSON, and nothing else', () => {
    // "false" in the environment is false (a coercion to boolean made it true: DDL allowed, backup skipped)
    expect(loadConfig({}, { CUTOVER_ALLOW_DDL: 'false', CUTOVER_SKIP_BACKUP: 'TRUE' })).toMatchObject({ allowDdl: false, skipBackup: true });
    expect(loadConfig({ config: tmpConfig('{"allowDdl": false, "json": "off", "soak": "0.5"}') }, {})).toMatchObject({ allowDdl: false, json: false, soak: 0.5 });
    expect(() => loadConfig({}, { CUTOVER_ALLOW_DDL: 'nope' })).toThrow('invalid allowDdl: expected true or false');
    expect(() => loadConfig({ reads: '0x32' }, {})).toThrow('invalid reads: expected a number');
    expect(() => loadConfig({ config: tmpConfig('{"reads": null}') }, {})).toThrow('invalid reads: expected a number');
    expect(() => loadConfig({ batchSize: '' }, {})).toThrow('invalid batchSize');
    expect(() => loadConfig({ steps: '50,25' }, {})).toThrow('invalid steps: expected rising percents');
  });

  it('reports an unreadable or non-JSON config file', () => {
    expect(() => loadConfig({ config: '/nonexistent/cutover.json' }, {})).toThrow(/cannot read \(ENOENT\)/);
    expect(() => loadConfig({ config: tmpConfig('{not json') }, {})).toThrow(/not a JSON object/);
  });
});

describe('database URLs', () => {
  it('parses postgres and both sqlite forms', () => {
    const pgUrl = parseDbUrl('postgres://app:s%40cret@db.local:5433/shop?sslmode=require');
    expect(pgUrl).toMatchObject({ kind: 'postgres', host: 'db.local', port: 5433, user: 'app', password: 's@cret', database: 'shop', sslmode: 'require' });
    expect(parseDbUrl('sqlite:///var/app.db')).toMatchObject({ kind: 'sqlite', path: '/var/app.db' });
    expect(parseDbUrl('sqlite:data/app.db')).toMatchObject({ kind: 'sqlite', path: path.resolve('data/app.db') });
  });

  it('a --state written as an SQLite URL is that file, not a relative path named sqlite:', () => {
    expect(loadConfig({ state: 'sqlite:///var/lib/cutover/state.db' }, {}).state).toBe('/var/lib/cutover/state.db');
    expect(loadConfig({ state: 'sqlite:rel/state.db' }, {}).state).toBe(path.resolve('rel/state.db'));
    expect(loadConfig({ state: 'plain/state.db' }, {}).state).toBe('plain/state.db');
  });

  it('redacts passwords', () => {
    expect(redactUrl('postgres://app:s3cret@h:5432/db')).toBe('postgres://app:***@h:5432/db');
    expect(redactUrl('postgres://h/db')).toBe('postgres://h/db');
    expect(redactUrl('postgres://app@h/db')).toBe('postgres://app@h/db');
  });

  it('redacts passwords an operator pasted unencoded, inside free text too', () => {
    // The userinfo runs to the last '@', as URL parsers read it: the first '@' would leave the tail
    expect(redactUrl('postgres://app:p@ss@h:1/db')).toBe('postgres://app:***@h:1/db');
    expect(redactUrl('postgres://app:pa ss@h/db')).toBe('postgres://app:***@h/db');
    expect(redactUrl('postgres://app:p/ss?x#y@h/db')).toBe('postgres://app:***@h/db');
    expect(redactUrl('connect postgres://a:x@y@h/d failed; target postgres://b:z w@h/d')).toBe('connect postgres://a:***@h/d failed; target postgres://b:***@h/d');
    expect(redactUrl('postgres://h/db?sslmode=require&password=zz9')).toBe('postgres://h/db?sslmode=require&password=***');
    // A password parsed once is masked wherever a driver quotes it later
    parseDbUrl('postgres://app:Qx7%20secret@h/db');
    expect(redactUrl('password=Qx7 secret host=h')).toBe('password=*** host=h');
  });
});
