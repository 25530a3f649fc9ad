// The demo's application: a small account/document service that knows nothing
// of Cutover beyond its connection string. It records every write the database
// acknowledged so the demo can prove none was lost.
import { pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';

export const APP_SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  id bigserial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  display_name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sessions (
  token text PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS documents (
  id bigserial PRIMARY KEY,
  account_id bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  title text NOT NULL,
  body text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS documents_account ON documents(account_id);
`;

/** Writes the database acknowledged, by table and key: the demo checks both sides hold all of them. */
export interface AckedWrites {
  accounts: Set<string>;
  sessions: Set<string>;
  documents: Set<string>;
}

const ITERATIONS = 1000; // demo-grade cost: the load generator shares two cores with two databases

export function hashPassword(password: string): string {
  const salt = randomBytes(12);
  const hash = pbkdf2Sync(password, salt, ITERATIONS, 32, 'sha256');
  return `pbkdf2_sha256$${ITERATIONS}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

function verifyPassword(password: string, stored: string): boolean {
  const [, iter, salt, hash] = stored.split('$');
  if (!iter || !salt || !hash) return false;
  const want = Buffer.from(hash, 'base64');
  const got = pbkdf2Sync(password, Buffer.from(salt, 'base64'), Number(iter), want.length, 'sha256');
  return got.length === want.length && timingSafeEqual(got, want);
}

export interface DemoApp {
  url: string;
  acked: AckedWrites;
  close(): Promise<void>;
}

/** `blobBodies`: the SQLite app keeps document bodies in a BLOB column, so it sends them as bytes. */
export async function startDemoApp(databaseUrl: string, poolSize = 16, blobBodies = false): Promise<DemoApp> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  pool.on('error', () => undefined); // an idle connection closed under us is replaced on next use
  const acked: AckedWrites = { accounts: new Set(), sessions: new Set(), documents: new Set() };
  const app: FastifyInstance = Fastify({ logger: false });

  app.post<{ Body: { email: string; password: string; name: string } }>('/signup', async (req, reply) => {
    const { email, password, name } = req.body;
    const r = await pool.query('INSERT INTO accounts (email, password_hash, display_name) VALUES ($1, $2, $3) RETURNING id', [
      email, hashPassword(password), name,
    ]);
    acked.accounts.add(String(r.rows[0].id));
    return reply.code(201).send({ id: r.rows[0].id });
  });

  app.post<{ Body: { email: string; password: string } }>('/login', async (req, reply) => {
    const r = await pool.query('SELECT id, password_hash FROM accounts WHERE email = $1', [req.body.email]);
    const row = r.rows[0];
    if (!row || !verifyPassword(req.body.password, row.password_hash)) return reply.code(401).send({ error: 'bad credentials' });
    const token = randomBytes(16).toString('hex');
    // one transaction: the session row and the account touch commit together
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('INSERT INTO sessions (token, account_id) VALUES ($1, $2)', [token, row.id]);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
    acked.sessions.add(token);
    return { token, id: row.id };
  });

  app.get<{ Params: { id: string } }>('/profile/:id', async (req, reply) => {
    const r = await pool.query(
      'SELECT a.id, a.email, a.display_name, count(d.id)::int AS documents FROM accounts a LEFT JOIN documents d ON d.account_id = a.id WHERE a.id = $1 GROUP BY a.id',
      [req.params.id],
    );
    if (!r.rows[0]) return reply.code(404).send({ error: 'no such account' });
    return r.rows[0];
  });

  app.post<{ Body: { accountId: number; title: string; body: string } }>('/documents', async (req, reply) => {
    const r = await pool.query('INSERT INTO documents (account_id, title, body) VALUES ($1, $2, $3) RETURNING id', [
      req.body.accountId, req.body.title, blobBodies ? Buffer.from(req.body.body) : req.body.body,
    ]);
    acked.documents.add(String(r.rows[0].id));
    return reply.code(201).send({ id: r.rows[0].id });
  });

  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    acked,
    close: async () => {
      await app.close();
      await pool.end();
    },
  };
}
