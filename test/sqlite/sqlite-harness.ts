// A proxy serving a fresh SQLite file, with a password user; no target database.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestProxy, type TestProxy } from '../proxy/proxy-harness.ts';

export const USER = 'app';
export const PASSWORD = 'app-secret';

export interface SqliteProxy {
  tp: TestProxy;
  file: string;
  url(): string;
  close(): Promise<void>;
}

export async function startSqliteProxy(): Promise<SqliteProxy> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cutover-sqlite-'));
  const file = path.join(dir, 'app.db');
  // an empty file is an empty SQLite database; the proxy refuses a missing one
  writeFileSync(file, '');
  const tp = await startTestProxy({ source: `sqlite://${file}`, users: [{ name: USER, password: PASSWORD }] });
  return {
    tp,
    file,
    url: () => tp.url('app', USER, PASSWORD),
    close: async () => {
      await tp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
