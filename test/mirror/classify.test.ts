import { beforeAll, describe, expect, it } from 'vitest';
import { cacheSize, classify, classifyUncached, loadParser, type Classification } from '../../proxy/classify/classify.ts';

beforeAll(async () => {
  await loadParser();
});

describe('statement classification with the PostgreSQL parser', () => {
  it.each([
    ['SELECT * FROM users WHERE id = $1', 'read'],
    ['select now(), lower(email), count(*) from users group by 1, 2', 'read'],
    ['SELECT 1; SELECT 2', 'read'],
    ['INSERT INTO t (a) VALUES (1) RETURNING id', 'write'],
    ['update t set a = a + 1 where id = 3', 'write'],
    ['DELETE FROM t', 'write'],
    ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a', 'write'],
    ['TRUNCATE t', 'write'],
    ['WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone', 'write'],
    ['SELECT * FROM t WHERE id = 1 FOR UPDATE', 'write'],
    ['SELECT * FROM t FOR SHARE SKIP LOCKED', 'write'],
    ["SELECT nextval('t_id_seq')", 'write'],
    ['SELECT my_function_that_might_write(1)', 'write'],
    ['COPY t FROM STDIN', 'write'],
    ['COPY t TO STDOUT', 'read'],
    ['COPY (SELECT * FROM t) TO STDOUT', 'read'],
    ['EXPLAIN SELECT * FROM t', 'read'],
    ['EXPLAIN ANALYZE DELETE FROM t', 'write'],
    ['SELECT * INTO t2 FROM t', 'ddl'],
    ['CREATE TABLE z (a int)', 'ddl'],
    ['ALTER TABLE z ADD COLUMN b int', 'ddl'],
    ['DROP TABLE z', 'ddl'],
    ['SET search_path = app, public', 'session'],
    ['RESET ALL', 'session'],
    ['DISCARD ALL', 'session'],
    ['LISTEN ch', 'session'],
    ['DEALLOCATE ALL', 'session'],
    ['SHOW server_version', 'session'],
    ['VACUUM ANALYZE pgbench_accounts', 'session'],
    ['ANALYZE t', 'session'],
    ['BEGIN', 'txn'],
    ['BEGIN; INSERT INTO t VALUES (1); COMMIT', 'txn'],
    ['DO $$ BEGIN PERFORM 1; END $$', 'write'],
    ['CALL p()', 'write'],
    ['SELEC 1', 'unknown'],
  ])('%s → %s', (sql, kind) => {
    expect(classify(sql).kind).toBe(kind);
  });

  it('names transaction operations and READ ONLY', () => {
    expect(classify('START TRANSACTION READ ONLY').statements[0]).toMatchObject({ txn: 'begin', readOnly: true });
    expect(classify('BEGIN ISOLATION LEVEL SERIALIZABLE').statements[0]).toMatchObject({ txn: 'begin', readOnly: false });
    expect(classify('COMMIT').statements[0]!.txn).toBe('commit');
    expect(classify('END').statements[0]!.txn).toBe('commit');
    expect(classify('ABORT').statements[0]!.txn).toBe('rollback');
    expect(classify('SAVEPOINT a').statements[0]!.txn).toBe('savepoint');
    expect(classify('ROLLBACK TO SAVEPOINT a').statements[0]!.txn).toBe('rollback_to');
    expect(classify('RELEASE a').statements[0]!.txn).toBe('release');
    expect(classify("PREPARE TRANSACTION 'x'").statements[0]!.txn).toBe('prepare');
  });

  it('marks reads of the server\'s catalogs and statistics', () => {
    for (const q of ['SELECT * FROM pg_stat_activity', 'SELECT oid FROM pg_catalog.pg_class', 'SELECT * FROM information_schema.columns', 'SELECT 1 FROM users u JOIN pg_locks l ON true', 'WITH x AS (SELECT * FROM pg_settings) SELECT * FROM x', 'SELECT pg_backend_pid()', 'SELECT pg_catalog.pg_relation_size(1)', 'SELECT inet_server_port()']) {
      expect(classify(q).kind, q).toBe('read');
      expect(classify(q).system, q).toBe(true);
    }
    for (const q of ['SELECT * FROM users', 'SELECT * FROM app.pg_things', 'SELECT pg_size_pretty(1)']) expect(classify(q).system, q).toBeUndefined();
  });

  it('tells SET LOCAL (transaction state) from SET (session state)', () => {
    expect(classify('SET LOCAL statement_timeout = 5').statements[0]).toMatchObject({ kind: 'session', local: true });
    expect(classify('SET statement_timeout = 5').statements[0]!.local).toBeUndefined();
    expect(classify('SET SESSION search_path = a').statements[0]!.local).toBeUndefined();
  });

  it('splits multi-statement text at the parser\'s offsets, unicode included', () => {
    const c = classify("INSERT INTO t VALUES ('ümlaut; still a string'); SELECT 'é' AS x ORDER BY 1");
    expect(c.statements.map((s) => s.text)).toEqual(["INSERT INTO t VALUES ('ümlaut; still a string')", "SELECT 'é' AS x ORDER BY 1"]);
    expect(c.statements.map((s) => s.kind)).toEqual(['write', 'read']);
  });

  it('sees ORDER BY and routing pins', () => {
    expect(classify('SELECT * FROM t ORDER BY id').orderBy).toBe(true);
    expect(classify('SELECT * FROM t').orderBy).toBe(false);
    expect(classify('/* cutover:source */ SELECT 1').pinned).toBe('source');
    expect(classify('SELECT 1 /* cutover:target */').pinned).toBe('target');
  });

  it('caches by text: the same text is parsed once', () => {
    const sql = `SELECT ${Math.random()} AS fresh`;
    const before = cacheSize();
    const a = classify(sql);
    expect(cacheSize()).toBe(before + 1);
    expect(classify(sql)).toBe(a);
    expect(cacheSize()).toBe(before + 1);
  });
});

describe('the shape cache and verdicts that follow a literal', () => {
  // found by a client asking current_setting('transaction_isolation') and then current_setting('transaction_read_only')
  // with reads routed: the second took the first's verdict (same shape), was answered by the READ ONLY target: 'on'
  it("current_setting('transaction_read_only') stays on the source after another setting of the same shape was routed", () => {
    const tag = Math.random().toString(36).slice(2);
    expect(classify(`SELECT current_setting('transaction_isolation') AS s_${tag}`).system).toBeUndefined();
    expect(classify(`SELECT current_setting('transaction_read_only') AS s_${tag}`).system).toBe(true);
    expect(classify(`SELECT current_setting('default_transaction_read_only') AS s_${tag}`).system).toBe(true);
    expect(classify(`SELECT current_setting('search_path') AS s_${tag}`).system).toBeUndefined();
  });

  it('ORDER BY 2 keeps its own sort key after ORDER BY 1 of the same shape', () => {
    const tag = Math.random().toString(36).slice(2);
    expect(classify(`SELECT a, b FROM t_${tag} WHERE c = 5 ORDER BY 1`).sortKeys).toEqual([1]);
    expect(classify(`SELECT a, b FROM t_${tag} WHERE c = 6 ORDER BY 2`).sortKeys).toEqual([2]);
  });

  it('other literals still share one verdict by shape', () => {
    const tag = Math.random().toString(36).slice(2);
    const a = classify(`SELECT a FROM t_${tag} WHERE c = 5 AND d = 'x'`);
    expect(classify(`SELECT a FROM t_${tag} WHERE c = 7 AND d = 'y'`).id).toBe(a.id);
  });
});

describe('long texts (bulk INSERTs, long IN lists) are classified by their shape with repeated rows and values cut to one', () => {
  const rows = (n: number, row: (i: number) => string) => Array.from({ length: n }, (_, i) => row(i)).join(',\n  ');
  const insert = (n: number, seed = 0) => `INSERT INTO users (id, email, created, score) VALUES ${rows(n, (i) => `(${i + seed}, 'u${i + seed}@example.com', now(), lower('X${i}'))`)} RETURNING id`;
  // what decides routing and mirroring must be what the whole text's parse gives
  const verdict = (c: Classification) => ({
    kind: c.kind, orderBy: c.orderBy, system: c.system ?? false, relations: c.relations ?? [], error: Boolean(c.error), pinned: c.pinned,
    statements: c.statements.map((s) => ({ ...s, text: s.text.length, at: s.at })),
  });
  const CASES: [string, string][] = [
    ['bulk INSERT', insert(3000)],
    ['rows of two shapes, alternating', `INSERT INTO t (a, b) VALUES ${rows(3000, (i) => (i % 2 ? `(${i}, 'x')` : `(${i}, NULL)`))}`],
    ['a writing function in every row of a read', `SELECT * FROM t WHERE (a, b) IN (${rows(3000, (i) => `(${i}, my_writer(${i}))`)})`],
    ['nextval in every row', `INSERT INTO t (id, v) VALUES ${rows(3000, (i) => `(nextval('s'), ${i})`)}`],
    ['a long IN list, ordered', `SELECT id, name FROM accounts WHERE id IN (${rows(5000, (i) => String(i))}) ORDER BY id`],
    ['an IN list of uuids with casts', `SELECT * FROM sessions WHERE id = ANY (ARRAY[${rows(1000, (i) => `'00000000-0000-0000-0000-${String(i).padStart(12, '0')}'::uuid`)}])`],
    ['a catalog read', `SELECT relname FROM pg_class WHERE oid IN (${rows(5000, (i) => String(i))})`],
    ['pinned by a comment', `/* cutover:source */ SELECT * FROM t WHERE id IN (${rows(5000, (i) => String(i))})`],
    ['a syntax error among the rows', `INSERT INTO t VALUES ${rows(3000, (i) => `(${i})`)} (1)`],
    ['many statements', rows(2000, (i) => `INSERT INTO t VALUES (${i})`).replaceAll(',\n', ';\n')],
    ['DDL', `CREATE TABLE wide (${rows(2000, (i) => `c${i} int DEFAULT ${i}`)})`],
    ['OVERLAPS pairs', `SELECT * FROM t WHERE ${rows(3000, () => `(a, b) OVERLAPS (0, 0)`).replaceAll(',\n', ' OR\n')}`],
  ];
  it.each(CASES)('%s: the same verdict as the whole text parsed', (_name, sql) => {
    expect(sql.length).toBeGreaterThan(16_384);
    expect(verdict(classify(sql))).toEqual(verdict(classifyUncached(sql)));
  });

  it('parses one of many bulk INSERTs of the same shape: the others get its verdict, with their own text', () => {
    const a = classify(insert(2000, 1));
    const b = classify(insert(2500, 7));
    expect(b.id).toBe(a.id);
    expect(b.statements[0]!.text).toBe(insert(2500, 7).trim());
    expect(a.kind).toBe('write');
  });
});

describe('deep and long texts', () => {
  it('classifies 600 nested subqueries, a read, and one that writes at the bottom', () => {
    const deep = (inner: string) => `SELECT ${'(SELECT '.repeat(600)}${inner}${')'.repeat(600)}`;
    const read = classifyUncached(deep('1'));
    expect(read.error).toBeUndefined();
    expect(read.kind).toBe('read');
    expect(classifyUncached(deep(`nextval('s')`)).kind).toBe('write');
  });

  it("finds each statement's text where it is, after multi-byte characters, in a text of 3,000 statements", () => {
    const text = Array.from({ length: 3000 }, (_, i) => `SELECT 'é${i}'; /* ü */ INSERT INTO t VALUES ('€${i}')`).join(';\n');
    const c = classifyUncached(text);
    expect(c.statements).toHaveLength(6000);
    for (const st of c.statements) expect(text.slice(st.at, st.at + st.text.length)).toBe(st.text);
    // a statement's text starts where the parser says: at the comment before it
    expect(c.statements[5999]!.text).toBe(`/* ü */ INSERT INTO t VALUES ('€2999')`);
  });
});

describe('ORDER BY keys as output columns', () => {
  it.each([
    ['SELECT a, b FROM t ORDER BY b, a DESC', ['b', 'a']],
    ['SELECT a, b FROM t ORDER BY 2', [2]],
    ['SELECT a AS x FROM t ORDER BY x NULLS FIRST', ['x']],
    ['SELECT a FROM t ORDER BY t.a', undefined],
    ['SELECT a FROM t ORDER BY lower(a)', undefined],
    ['SELECT a FROM t', undefined],
  ])('%s: %j', (text, keys) => {
    expect(classifyUncached(text).sortKeys).toEqual(keys);
  });
});

describe('reads whose answer is unstable (never shadow-compared)', () => {
  it.each([
    ['SELECT random()', true],
    ['SELECT id FROM t WHERE random() < 0.1', true],
    ['SELECT now()', true],
    ['SELECT CURRENT_DATE, LOCALTIMESTAMP', true],
    ['SELECT age(created) FROM t', true],
    ['SELECT * FROM t LIMIT 10', true],
    ['SELECT * FROM t FETCH FIRST 3 ROWS ONLY', true],
    ['SELECT DISTINCT ON (a) a, b FROM t', true],
    ['SELECT string_agg(name, \',\') FROM t', true],
    ['SELECT lag(a) OVER (PARTITION BY b) FROM t', true],
    ['SELECT * FROM t TABLESAMPLE BERNOULLI (5)', true],
    ['SELECT * FROM t WHERE expires > now()', false],
    ['SELECT age(a, b) FROM t', false],
    ['SELECT * FROM t ORDER BY id LIMIT 10', false],
    ['SELECT DISTINCT a FROM t', false],
    ['SELECT string_agg(name, \',\' ORDER BY name) FROM t', false],
    ['SELECT lag(a) OVER (ORDER BY b) FROM t', false],
    ['SELECT count(*) FROM t', false],
    [`SELECT current_setting('server_version')`, true],
  ])('%s: %s', (text, unstable) => {
    expect(Boolean(classifyUncached(text).unstable)).toBe(unstable);
  });

  it.each(['EXPLAIN SELECT * FROM t', 'EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t', 'SELECT version()', 'SELECT pg_column_size(body) FROM t', `SELECT 'mood'::regtype::oid`, `SELECT CAST('t' AS pg_catalog.regclass)::int`, `SELECT 'lower(text)'::regprocedure`, 'SELECT 16440::regtype::text', `SELECT regnamespace 'public'`, 'SELECT xmin, * FROM t WHERE id = 1', 'SELECT t.ctid FROM t', 'SELECT count(*) FROM t GROUP BY tableoid', 'SELECT session_user', 'SELECT current_catalog', 'SELECT current_database()', `SELECT current_setting('server_version_num')::int`])('%s describes the server: it stays on the source', (text) => {
    expect(classifyUncached(text)).toMatchObject({ kind: 'read', system: true });
  });
});
