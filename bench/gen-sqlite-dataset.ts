// The reference SQLite dataset of the backfill issue: `users` (integer key,
// unique e-mail, bcrypt-format hash, display name, admin flag, REAL balance,
// ISO timestamp, a 64-byte BLOB on every tenth row) and `sessions` (text key,
// foreign key to users, JSON text). Deterministic for a given seed.
//   npx tsx bench/gen-sqlite-dataset.ts out.db [--users 1000000] [--sessions 500000]
import { rmSync } from 'node:fs';
import Database from 'better-sqlite3';

export const DATASET_SCHEMA = `
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    display_name TEXT,
    is_admin BOOLEAN NOT NULL DEFAULT 0,
    balance REAL NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    avatar BLOB,
    CHECK (balance > -1000000000)
  );
  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    data TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
  );
  CREATE INDEX sessions_user_id ON sessions (user_id);`;

const B64 = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateDataset(file: string, users: number, sessions: number, seed = 42): void {
  rmSync(file, { force: true });
  rmSync(file + '-wal', { force: true });
  rmSync(file + '-shm', { force: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.exec(DATASET_SCHEMA);
  const r = rng(seed);
  const pick = (n: number) => Array.from({ length: n }, () => B64[Math.floor(r() * 64)]).join('');
  const insUser = db.prepare('INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const insSession = db.prepare('INSERT INTO sessions VALUES (?, ?, ?, ?)');
  const t0 = Date.UTC(2020, 0, 1);
  db.transaction(() => {
    for (let i = 1; i <= users; i++) {
      const balance = i === 1 ? 1234567.891 : Math.round((r() - 0.2) * 1e8) / 100 + r() / 1e6;
      const created = new Date(t0 + Math.floor(r() * 1.5e11)).toISOString();
      const avatar = i % 10 === 0 ? Buffer.from(Array.from({ length: 64 }, () => Math.floor(r() * 256))) : null;
      insUser.run(i, `user${i}.${pick(4)}@example.com`, `$2b$12$${pick(53)}`, `User ${i} ${pick(6)}`, r() < 0.01 ? 1 : 0, balance, created, avatar);
    }
    for (let i = 1; i <= sessions; i++) {
      const token = Buffer.from(Array.from({ length: 16 }, () => Math.floor(r() * 256))).toString('hex');
      const data = JSON.stringify({ ip: `10.${i % 256}.${(i >> 8) % 256}.${i % 97}`, ua: 'Mozilla/5.0', theme: r() < 0.5 ? 'dark' : 'light', n: i });
      insSession.run(token, 1 + Math.floor(r() * users), data, new Date(t0 + Math.floor(r() * 1.5e11)).toISOString());
    }
  })();
  db.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: gen-sqlite-dataset.ts out.db [--users N] [--sessions N]');
    process.exit(1);
  }
  const num = (name: string, d: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : d;
  };
  const started = Date.now();
  generateDataset(file, num('users', 1_000_000), num('sessions', 500_000));
  console.log(`${file}: generated in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
