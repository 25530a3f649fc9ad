// psql's describe commands (\dt, \d, \d t, \di, \dv, \ds, \dn, \l, \du) against the proxy serving an
// SQLite file: the catalog the session attaches answers psql's own queries, and where PostgreSQL and the
// emulation describe the same thing (keys, indexes, foreign keys both ways, checks) the lines are PostgreSQL's.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { PASSWORD, USER, startSqliteProxy, type SqliteProxy } from './sqlite-harness.ts';

const run = promisify(execFile);
let sp: SqliteProxy;
let psql: string;
let pgDb: string | null = null;

// int columns are bigint on both sides: SQLite's integers are 64-bit, and the proxy describes what its results carry
const SCHEMA = `
CREATE TABLE authors (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, email varchar(200), born date,
  active boolean NOT NULL DEFAULT true, score numeric(10,2) DEFAULT 0, created_at timestamptz DEFAULT now());
CREATE TABLE books (id bigserial PRIMARY KEY, author_id bigint NOT NULL REFERENCES authors(id) ON DELETE CASCADE,
  title text NOT NULL, pages bigint CHECK (pages > 0), price double precision, body bytea, isbn varchar(13));
CREATE INDEX books_title_idx ON books (title);
CREATE UNIQUE INDEX books_isbn_idx ON books (isbn);
CREATE INDEX authors_lower_email ON authors (lower(email));
CREATE VIEW prolific AS SELECT a.name, count(*) AS n FROM authors a JOIN books b ON b.author_id = a.id GROUP BY a.name;
CREATE TABLE tags (book_id bigint REFERENCES books(id), tag text, PRIMARY KEY (book_id, tag));
`;

const proxyEnv = () => ({ ...process.env, PGPASSWORD: PASSWORD, PGHOST: '127.0.0.1', PGUSER: USER, PGPORT: String(sp.tp.port), PGDATABASE: 'app' });

async function describeVia(env: NodeJS.ProcessEnv, ...commands: string[]): Promise<string> {
  const { stdout } = await run(psql, ['-X', '-v', 'ON_ERROR_STOP=1', ...commands.flatMap((c) => ['-c', c])], { env });
  return stdout;
}

const proxy = (...commands: string[]) => describeVia(proxyEnv(), ...commands);

/** The lines of one footer section of \d (Indexes:, Foreign-key constraints:, …). */
function section(out: string, title: string): string[] {
  const lines = out.split('\n');
  const at = lines.indexOf(`${title}:`);
  if (at < 0) return [];
  const rest = lines.slice(at + 1);
  const end = rest.findIndex((l) => !l.startsWith('    '));
  return rest.slice(0, end < 0 ? undefined : end).map((l) => l.trim());
}

/** A \d column row as [name, type, nullable, default]. */
function columns(out: string): string[][] {
  return out.split('\n').filter((l) => /^ \S.*\|.*\|.*\|.*\|/.test(l) && !l.includes('Column')).map((l) => l.split('|').map((c) => c.trim())).map(([n, t, , nl, d]) => [n!, t!, nl!, d!]);
}

beforeAll(async () => {
  sp = await startSqliteProxy();
  psql = existsSync('/usr/bin/psql') ? '/usr/bin/psql' : path.join(inject('legacy').binDir, 'psql');
  await run(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', SCHEMA], { env: proxyEnv() });
});
afterAll(async () => {
  await sp?.close();
  if (pgDb) await run(psql, ['-X', '-q', inject('legacy').url, '-c', `DROP DATABASE ${pgDb}`]).catch(() => undefined);
});

describe('psql describe commands → proxy → SQLite', () => {
  it('lists relations: \\dt, \\d, \\di, \\dv, \\ds', async () => {
    const dt = await proxy('\\dt');
    expect(dt).toMatch(/ public \| authors \| table \| app/);
    expect(dt).toMatch(/ public \| tags {4}\| table \| app/);
    expect(dt).toContain('(3 rows)');
    const d = await proxy('\\d');
    expect(d).toMatch(/prolific +\| view/);
    expect(d).toMatch(/authors_id_seq +\| sequence/);
    const di = await proxy('\\di');
    for (const ix of ['authors_pkey', 'authors_name_key', 'authors_lower_email', 'books_pkey', 'books_title_idx', 'books_isbn_idx', 'tags_pkey']) {
      expect(di).toMatch(new RegExp(` ${ix} +\\| index \\| app +\\| \\w+`));
    }
    expect(await proxy('\\dv')).toMatch(/ public \| prolific \| view \| app/);
    expect(await proxy('\\ds')).toMatch(/ public \| books_id_seq +\| sequence \| app/);
  });

  it('describes a table: columns, defaults, indexes, checks, foreign keys both ways', async () => {
    const books = await proxy('\\d books');
    expect(books).toContain('Table "public.books"');
    expect(columns(books)).toEqual([
      ['id', 'bigint', 'not null', "nextval('books_id_seq'::regclass)"],
      ['author_id', 'bigint', 'not null', ''],
      ['title', 'text', 'not null', ''],
      ['pages', 'bigint', '', ''],
      ['price', 'double precision', '', ''],
      ['body', 'bytea', '', ''],
      ['isbn', 'character varying(13)', '', ''],
    ]);
    expect(section(books, 'Indexes')).toEqual(['"books_pkey" PRIMARY KEY, btree (id)', '"books_isbn_idx" UNIQUE, btree (isbn)', '"books_title_idx" btree (title)']);
    expect(section(books, 'Check constraints')).toEqual(['"books_pages_check" CHECK (pages > 0)']);
    expect(section(books, 'Foreign-key constraints')).toEqual(['"books_author_id_fkey" FOREIGN KEY (author_id) REFERENCES authors(id) ON DELETE CASCADE']);
    expect(section(books, 'Referenced by')).toEqual(['TABLE "tags" CONSTRAINT "tags_book_id_fkey" FOREIGN KEY (book_id) REFERENCES books(id)']);

    const authors = await proxy('\\d authors');
    expect(columns(authors).map((c) => c.join(' | '))).toEqual([
      "id | bigint | not null | nextval('authors_id_seq'::regclass)",
      'name | text | not null | ',
      'email | character varying(200) |  | ',
      'born | date |  | ',
      'active | boolean | not null | true',
      'score | numeric(10,2) |  | 0',
      'created_at | timestamp with time zone |  | now()',
    ]);
    expect(section(authors, 'Indexes')).toEqual(['"authors_pkey" PRIMARY KEY, btree (id)', '"authors_lower_email" btree (lower(email))', '"authors_name_key" UNIQUE CONSTRAINT, btree (name)']);
    expect(section(authors, 'Referenced by')).toEqual(['TABLE "books" CONSTRAINT "books_author_id_fkey" FOREIGN KEY (author_id) REFERENCES authors(id) ON DELETE CASCADE']);

    const tags = await proxy('\\d tags');
    expect(section(tags, 'Indexes')).toEqual(['"tags_pkey" PRIMARY KEY, btree (book_id, tag)']);
    expect(columns(tags)).toEqual([['book_id', 'bigint', 'not null', ''], ['tag', 'text', 'not null', '']]);
  });

  it('describes views, indexes and sequences; \\d+ too', async () => {
    const view = await proxy('\\d+ prolific');
    expect(view).toContain('View "public.prolific"');
    expect(view).toContain('View definition:');
    expect(view).toContain('GROUP BY a.name');
    const ix = await proxy('\\d authors_pkey');
    expect(ix).toContain('Index "public.authors_pkey"');
    expect(ix).toContain('primary key, btree, for table "public.authors"');
    const seq = await proxy('\\d books_id_seq');
    expect(seq).toContain('Owned by: public.books.id');
    const plus = await proxy('\\d+ authors');
    expect(plus).toContain('Access method: heap');
    expect(await proxy('\\dt+')).toMatch(/authors \| table \| app +\| permanent/);
  });

  it('answers \\dn, \\l and \\du', async () => {
    expect(await proxy('\\dn')).toMatch(/ public \| pg_database_owner/);
    expect(await proxy('\\l')).toMatch(/ app +\| app +\| UTF8 +\| C +\| C /);
    expect(await proxy('\\du')).toMatch(/ app +\| +\| \{\}/);
    await expect(proxy('\\d nosuch').catch((e: { stderr: string }) => e.stderr)).resolves.toContain('Did not find any relation named "nosuch"');
  });

  it('follows DDL, and DDL rolled back, without a new session', async () => {
    const out = await proxy('\\dt', 'CREATE TABLE extra (id bigint PRIMARY KEY)', '\\dt', 'BEGIN', 'CREATE TABLE gone (x bigint)', '\\dt gone', 'ROLLBACK', '\\dt', 'DROP TABLE extra', '\\dt');
    const counts = [...out.matchAll(/\((\d+) rows?\)/g)].map((m) => Number(m[1]));
    expect(counts).toEqual([3, 4, 1, 4, 3]);
  });

  it('matches PostgreSQL for the same schema where it emulates it', async () => {
    const legacy = inject('legacy');
    pgDb = `describe_${randomBytes(4).toString('hex')}`;
    await run(psql, ['-X', '-q', legacy.url, '-c', `CREATE DATABASE ${pgDb}`]);
    const url = new URL(legacy.url);
    url.pathname = `/${pgDb}`;
    await run(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', url.toString(), '-c', SCHEMA]);
    const pg = (c: string) => run(psql, ['-X', url.toString(), '-c', c]).then((r) => r.stdout);
    for (const table of ['books', 'authors', 'tags']) {
      const [a, b] = [await pg(`\\d ${table}`), await proxy(`\\d ${table}`)];
      for (const s of ['Foreign-key constraints', 'Referenced by']) expect(section(b, s), `${table} ${s}`).toEqual(section(a, s));
      // expression indexes print their expression as PostgreSQL deparses it (lower(email::text)); the rest alike
      expect(section(b, 'Indexes').filter((l) => !l.includes('lower('))).toEqual(section(a, 'Indexes').filter((l) => !l.includes('lower(')));
      // names, nullability and defaults; types where the SQLite file keeps PostgreSQL's
      expect(columns(b).map(([n, , nl, d]) => [n, nl, d])).toEqual(columns(a).map(([n, , nl, d]) => [n, nl, d]));
    }
    expect(section(await proxy('\\d books'), 'Check constraints')).toEqual(section(await pg('\\d books'), 'Check constraints'));
    const names = (out: string) => out.split('\n').filter((l) => l.startsWith(' public')).map((l) => l.split('|').slice(0, 3).map((c) => c.trim()).join('|'));
    expect(names(await proxy('\\d'))).toEqual(names(await pg('\\d')));
    expect(names(await proxy('\\di'))).toEqual(names(await pg('\\di')));
  });
});
