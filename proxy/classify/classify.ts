// Statement classification with PostgreSQL's own parser (libpg-query), cached
// by SQL text: the router asks once per distinct text, not once per execution.
// Simple-protocol clients put their values in the text (pgbench: `... WHERE
// aid = 4711`), so every execution is a new text; a single read or write is
// therefore also cached by its shape, the text with its literals blanked
// (literal-shape.ts): parsing is a tenth of a mirrored transaction's proxy CPU.
import pgQuery from 'libpg-query';
import { isReadOnlyFunction, isSessionNeutral, SERVER_FUNCTIONS } from './read-only-functions.ts';
import { literalShape } from './literal-shape.ts';
import { writesLargeObject } from './large-objects.ts';

export type Kind = 'read' | 'write' | 'txn' | 'session' | 'ddl' | 'unknown';
export type TxnOp = 'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollback_to' | 'prepare' | 'commit_prepared' | 'rollback_prepared';

export interface StatementInfo {
  kind: Kind;
  txn?: TxnOp;
  /** BEGIN/START TRANSACTION READ ONLY. */
  readOnly?: boolean;
  /** COMMIT/ROLLBACK AND CHAIN: a new transaction, with the same characteristics, starts at once. */
  chain?: boolean;
  /** The statement's own text (for splitting multi-statement queries). */
  text: string;
  /** Where `text` starts in the SQL string (a string index), so a split-off piece keeps error positions. */
  at: number;
  /** The parser's node type, e.g. VariableSetStmt, DeallocateStmt. */
  node: string;
  orderBy: boolean;
  sortKeys?: (string | number)[];
  /** SET LOCAL: lasts until the transaction ends, so it is no session state to carry to another backend. */
  local?: boolean;
  /**
   * SET (LOCAL or not) or RESET of statement_timeout or
   * idle_in_transaction_session_timeout, or a transaction or setting made
   * SERIALIZABLE: the proxy's own statements in the session's transactions
   * may then need settings of their own (Relay.liftSettings).
   */
  lifts?: true;
  /** SET or RESET of client_encoding (SET NAMES, RESET ALL too): the drain may not read its rows as UTF-8 (Relay.requestDrain). */
  encodes?: true;
  /**
   * State the session now has on the source alone, which the target cannot be
   * given: temporary objects, settings made by set_config(), a role changed or
   * reset. Its reads stay on the source from then on.
   */
  sourceOnly?: string;
  /** Temporary relations this statement creates (CREATE TEMP …, SELECT … INTO TEMP), by name. */
  tempCreates?: string[];
  /** DROP of relations, by name as written: DDL, unless they are the session's own temporary ones. */
  drops?: string[];
  /** ALTER TABLE (RENAME too), ALTER SEQUENCE or CREATE INDEX of a relation, by name as written: DDL, unless it is the session's own temporary one. */
  alters?: string[];
  /** The new name a RENAME gives the relation it names, or CREATE INDEX its index (temporary when that relation is). */
  newName?: string;
  /** SQL PREPARE's statement name: one namespace with the protocol's named statements. */
  prepares?: string;
  /** SQL DEALLOCATE's statement name, or '*' for ALL. */
  deallocates?: string;
  /** SQL EXECUTE's statement name. */
  executes?: string;
  /**
   * The session setting a SET or RESET leaves (lower-case name; SET SESSION
   * CHARACTERISTICS with the characteristics it names), '*' for RESET ALL and
   * DISCARD ALL: a later statement of the same key makes the earlier one
   * unnecessary to replay. Absent where there is nothing to replay on a new
   * connection (SET TRANSACTION, SET LOCAL, other DISCARDs).
   */
  setting?: string;
  /** Calls a function that writes a large object, which the mirror cannot carry (large-objects.ts): kind 'ddl', refused alike. */
  largeObjects?: true;
}

export interface Classification {
  /** The combined verdict: write beats read; any transaction control makes it txn. */
  kind: Kind;
  /** Shared by every text of one literal shape (and only by those): what is learned about a statement is kept by it. */
  id: number;
  statements: StatementInfo[];
  /** `/* cutover:source *\/` or `/* cutover:target *\/` in the text. */
  pinned: 'source' | 'target' | null;
  /**
   * Reads the server's own catalogs or statistics (pg_catalog,
   * information_schema): object IDs, sessions, locks and settings are each
   * server's own, so such reads stay on the source unless pinned.
   */
  system?: boolean;
  /**
   * Reads pg_prepared_statements (the view or its function): the proxy's own
   * drain statement, prepared in the client's server session, would show
   * there (DrainStatements.hide).
   */
  listsPrepared?: true;
  /** Relations a read names, as written (`schema.name` or `name`): the router keeps reads of unmirrored ones on the source. */
  relations?: string[];
  /**
   * A read whose answer differs from run to run, or between two servers
   * holding the same rows (random(), now() in the select list, TABLESAMPLE,
   * LIMIT without ORDER BY, array_agg without ORDER BY): never
   * shadow-compared, where it could only count a false mismatch.
   */
  unstable?: boolean;
  /** Results are ordered (top-level ORDER BY): shadow reads compare in order. */
  orderBy: boolean;
  /**
   * The ORDER BY's keys as output columns, by name or 1-based position, when
   * every key is one: shadow reads then compare the order of the keys, not of
   * whole rows, which rows with equal keys may come in either way.
   */
  sortKeys?: (string | number)[];
  /**
   * The verdict follows a literal's value (which setting current_setting()
   * reads, which column ORDER BY 2 names): cached by its exact text, never
   * by its shape, where another value would take this verdict.
   */
  literalBound?: true;
  /**
   * Calls a function not known to leave the session as it was (neither
   * read-only nor in SESSION_NEUTRAL): its body may make a temporary table or
   * SET something for the rest of the session, which the text does not show
   * (Relay.verifySession asks the source afterwards).
   */
  callsFunctions?: true;
  /** Relations a request that may write names, as `relations` (whose writes may fire triggers: Relay.runsUserCode). */
  writes?: string[];
  error?: string;
}

let loaded: Promise<void> | null = null;

/** Load the parser (WASM) once, before the first classification. */
export function loadParser(): Promise<void> {
  loaded ??= pgQuery.loadModule();
  return loaded;
}

const CACHE_MAX = 10_000;
/** Longer texts are parsed each time: 10,000 of the 64 MiB a message may hold would be no cache but a leak. */
const CACHE_TEXT_MAX = 16_384;
const cache = new Map<string, Classification>();

/** Single reads and writes by literal shape: what the verdict depends on is the same for every value. */
const byShape = new Map<string, Classification>();

export function classify(sql: string): Classification {
  if (sql.length > CACHE_TEXT_MAX) return classifyLong(sql);
  const hit = cache.get(sql);
  if (hit) return hit;
  const shape = literalShape(sql);
  const like = shape === null ? undefined : byShape.get(shape);
  if (like) return asText(like, sql);
  const result = classifyUncached(sql);
  if (shape !== null && !result.error && !result.literalBound && result.statements.length === 1 && (result.kind === 'read' || result.kind === 'write')) {
    if (byShape.size >= CACHE_MAX) byShape.delete(byShape.keys().next().value as string);
    byShape.set(shape, result);
    return result;
  }
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(sql, result);
  return result;
}

/** A cached verdict for another text of the same shape: the statement's own text is the one thing that differs (only logged for reads and writes). */
function asText(like: Classification, sql: string): Classification {
  const text = sql.trim();
  const at = sql.length - sql.trimStart().length;
  const first = like.statements[0]!;
  return first.text === text && first.at === at ? like : { ...like, statements: [{ ...first, text, at }], pinned: pinOf(sql) };
}

/**
 * A text too long to cache, such as a bulk INSERT of thousands of rows or a
 * read with an IN list of thousands of keys. Parsed whole, a 5 MB one held the
 * event loop, every session with it, for 2–3 s, on every run. Its rows (keys)
 * have one shape, and a list of one has the same verdict as of many identical
 * ones (the same statement, functions and relations): the shape with each run
 * of identical rows and values cut to one is parsed once and cached. If that
 * does not parse to one plain read or write, the text is parsed whole, as before.
 */
function classifyLong(sql: string): Classification {
  const shape = literalShape(sql);
  const short = shape === null || shape.includes('--') || shape.includes('/*') ? null : shape.replace(REPEATED_ROWS, '$1').replace(REPEATED_VALUES, '$1');
  if (short === null || short.length > CACHE_TEXT_MAX) return classifyUncached(sql);
  const like = byShape.get(short);
  if (like) return asText(like, sql);
  const result = classifyUncached(short);
  if (result.error || result.literalBound || result.statements.length !== 1 || (result.kind !== 'read' && result.kind !== 'write')) return classifyUncached(sql);
  if (byShape.size >= CACHE_MAX) byShape.delete(byShape.keys().next().value as string);
  byShape.set(short, result);
  return asText(result, sql);
}

/**
 * A run of identical parenthesised groups, comma-separated, in a literal
 * shape (strings are '?' there): `(0, '?', now()), (0, '?', now())`. A group
 * may nest one level of parentheses; quoted identifiers end the match, so
 * only groups certainly alike are cut.
 */
const GROUP_INNER = `(?:[^()'"]|'\\?')*`;
const GROUP = `\\((?:[^()'"]|'\\?'|\\(${GROUP_INNER}\\))*\\)`;
const REPEATED_ROWS = new RegExp(`(${GROUP})(?:\\s*,\\s*\\1)+`, 'g');
/** A run of the same blanked value in a list (`IN (0, 0, …)`, `ARRAY['?'::uuid, …]`), a whole token each. */
const REPEATED_VALUES = /(?<![\w$.])((?:-?0|'\?')(?:::\w+)?)(?:\s*,\s*\1)+(?![\w$.])/g;

export function cacheSize(): number {
  return cache.size + byShape.size;
}

function pinOf(sql: string): 'source' | 'target' | null {
  // routing metadata in a comment, which the parser drops: read from the text
  if (sql.includes('cutover:source')) return 'source';
  if (sql.includes('cutover:target')) return 'target';
  return null;
}

type Node = Record<string, unknown>;

/** Combining statements: the most consequential kind decides where the whole text goes. */
const RANK: Record<Kind, number> = { read: 0, session: 1, unknown: 2, write: 3, ddl: 4, txn: 5 };

let ids = 0;

export function classifyUncached(sql: string): Classification {
  const pinned = pinOf(sql);
  const id = ++ids;
  let tree: { stmts?: { stmt: Node; stmt_location?: number; stmt_len?: number }[] };
  try {
    tree = pgQuery.parseSync(sql) as typeof tree;
  } catch (e) {
    return { kind: 'unknown', id, statements: [], pinned, orderBy: false, error: (e as Error).message };
  }
  const bytes = Buffer.from(sql, 'utf8');
  // libpg-query reports byte offsets, in order; the characters before each statement are
  // counted from the last one, not from the start (20,000 statements in one Query took 9 s)
  let byteAt = 0;
  let charAt = 0;
  const statements: StatementInfo[] = (tree.stmts ?? []).map((s) => {
    const start = s.stmt_location ?? 0;
    charAt += bytes.toString('utf8', byteAt, start).length;
    byteAt = start;
    const raw = bytes.toString('utf8', start, s.stmt_len ? start + s.stmt_len : bytes.length);
    const text = raw.trim();
    const at = charAt + raw.length - raw.trimStart().length;
    return { ...classifyStatement(s.stmt), text, at, node: Object.keys(s.stmt)[0] ?? '' };
  });
  let kind: Kind = statements.length ? 'read' : 'session';
  for (const st of statements) if (RANK[st.kind] > RANK[kind]) kind = st.kind;
  const system = (tree.stmts ?? []).some((s) => readsSystemCatalogs(s.stmt));
  const listsPrepared = (tree.stmts ?? []).some((s) => readsPreparedStatements(s.stmt));
  const relations = kind === 'read' ? relationsNamed(tree.stmts ?? []) : [];
  const unstable = kind === 'read' && (tree.stmts ?? []).some((s) => unstableAnswer(s.stmt));
  const single = statements.length === 1 ? statements[0]! : null;
  const literalBound = Boolean(single?.sortKeys?.some((k) => typeof k === 'number')) || (tree.stmts ?? []).some((s) => readsSettingByName(s.stmt));
  // only a write can call one (writesIn): reads are spared the walk
  const callsFunctions = kind !== 'read' && (tree.stmts ?? []).some((s) => callsUnknownFunction(s.stmt));
  const writes = kind === 'write' || kind === 'txn' ? relationsNamed(tree.stmts ?? []) : [];
  return { kind, id, statements, pinned, orderBy: Boolean(single?.orderBy), ...(single?.sortKeys ? { sortKeys: single.sortKeys } : {}), ...(system ? { system } : {}), ...(listsPrepared ? { listsPrepared } : {}), ...(relations.length ? { relations } : {}), ...(unstable ? { unstable } : {}), ...(literalBound ? { literalBound } : {}), ...(callsFunctions ? { callsFunctions } : {}), ...(writes.length ? { writes } : {}) };
}

function classifyStatement(stmt: Node): Omit<StatementInfo, 'text' | 'at' | 'node'> {
  const info = classifyBody(stmt);
  if (anyNode(stmt, (k, v) => k === 'FuncCall' && writesLargeObject(funcName(v).join('.')))) return { ...info, kind: 'ddl', largeObjects: true };
  if (info.sourceOnly || !callsSetConfig(stmt)) return info;
  return { ...info, sourceOnly: 'set_config()' };
}

/** A relation a CREATE names, when it is a temporary one. */
function tempRelation(rel: unknown): string | null {
  const r = rel as { relpersistence?: string; relname?: string; schemaname?: string } | undefined;
  // CREATE TABLE pg_temp.x is as temporary as CREATE TEMP TABLE x, though the parser sees only a schema name
  return (r?.relpersistence === 't' || r?.schemaname === 'pg_temp') && r.relname ? r.relname : null;
}

function classifyBody(stmt: Node): Omit<StatementInfo, 'text' | 'at' | 'node'> {
  const [type, body] = Object.entries(stmt)[0] as [string, Node];
  // temporary objects are the session's own: no schema change, nothing to mirror, never on the target
  const temp = tempRelation((body?.relation ?? (body?.sequence as Node | undefined) ?? (body?.view as Node | undefined) ?? ((body?.into ?? body?.intoClause) as Node | undefined)?.rel) as unknown);
  if (temp && ['CreateStmt', 'CreateSeqStmt', 'ViewStmt', 'CreateTableAsStmt', 'SelectStmt'].includes(type)) {
    return { kind: type === 'CreateTableAsStmt' || type === 'SelectStmt' ? 'write' : 'session', orderBy: false, sourceOnly: 'temporary objects', tempCreates: [temp] };
  }
  switch (type) {
    case 'SelectStmt': {
      if (body.intoClause) return { kind: 'ddl', orderBy: false };
      const orderBy = Array.isArray(body.sortClause) && body.sortClause.length > 0;
      const sortKeys = orderBy ? outputSortKeys(body.sortClause as Node[]) : null;
      return { kind: writesIn(body) ? 'write' : 'read', orderBy, ...(sortKeys ? { sortKeys } : {}) };
    }
    case 'DropStmt': {
      const drops = dropNames(body);
      return drops ? { kind: 'ddl', orderBy: false, drops } : { kind: 'ddl', orderBy: false };
    }
    // a temporary table's columns and indexes are the session's own (pg-cursor's tests ALTER one in a transaction)
    case 'AlterTableStmt':
    case 'AlterSeqStmt':
    case 'IndexStmt': {
      const name = unqualifiedOrTemp(body.relation ?? body.sequence);
      if (!name) return { kind: 'ddl', orderBy: false };
      // an index of a temporary table is in the temporary schema too: a DROP INDEX of it is the session's own
      const index = type === 'IndexStmt' ? (body.idxname as string | undefined) : undefined;
      return { kind: 'ddl', orderBy: false, alters: [name], ...(index ? { newName: index } : {}) };
    }
    case 'RenameStmt': {
      const name = unqualifiedOrTemp(body.relation);
      if (!name) return { kind: 'ddl', orderBy: false };
      const renamesRelation = ['OBJECT_TABLE', 'OBJECT_SEQUENCE', 'OBJECT_VIEW', 'OBJECT_INDEX'].includes(body.renameType as string);
      return { kind: 'ddl', orderBy: false, alters: [name], ...(renamesRelation ? { newName: body.newname as string } : {}) };
    }
    case 'CommentStmt': {
      // a comment on a temporary relation or its column is the session's own, as an ALTER of it is
      const name = commentedRelation(body);
      return name ? { kind: 'ddl', orderBy: false, alters: [name] } : { kind: 'ddl', orderBy: false };
    }
    // cursors live on the backend that declared them (and may call writing functions): the source's
    case 'DeclareCursorStmt':
    case 'FetchStmt':
    case 'ClosePortalStmt':
    case 'ConstraintsSetStmt':
    case 'LoadStmt':
      return { kind: 'session', orderBy: false };
    case 'DoStmt':
    case 'CallStmt':
      // what the body does is not in the text: a temporary table it makes may hide a table of the same name,
      // a SET or set_config() in it changes the session, and the target's session learns of neither
      return { kind: 'write', orderBy: false, sourceOnly: 'DO or CALL' };
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
    case 'TruncateStmt':
    // SQL EXECUTE of a PREPAREd statement: what it runs is not in the text, so it is taken for a write
    // (mirrored before its acknowledgement; the statement exists on the source only)
    case 'ExecuteStmt':
      return { kind: 'write', orderBy: false, executes: body.name as string };
    case 'LockStmt':
    case 'NotifyStmt':
    case 'RefreshMatViewStmt':
      return { kind: 'write', orderBy: false };
    case 'CopyStmt':
      return { kind: body.is_from ? 'write' : body.query && writesIn(body.query as Node) ? 'write' : 'read', orderBy: false };
    case 'ExplainStmt': {
      const analyze = ((body.options as Node[] | undefined) ?? []).some((o) => (o.DefElem as Node | undefined)?.defname === 'analyze');
      if (!analyze) return { kind: 'read', orderBy: false };
      return { ...classifyStatement(body.query as Node), orderBy: false };
    }
    case 'TransactionStmt':
      return txnInfo(body);
    case 'VariableSetStmt': {
      // the target's sessions log in as the target URL's role, switched to the client's: a role changed
      // or reset there could end as the target's own, with its privileges
      const name = body.name as string | undefined;
      const role = !body.is_local && (name === 'role' || name === 'session_authorization');
      // SET TRANSACTION READ ONLY: the open transaction can write nothing
      const readOnly = name === 'TRANSACTION' && ((body.args as Node[] | undefined) ?? []).some((a) => {
        const d = a.DefElem as Node | undefined;
        return d?.defname === 'transaction_read_only' && ((d.arg as Node | undefined)?.A_Const as Node | undefined)?.ival !== undefined && (((d.arg as Node).A_Const as Node).ival as Node).ival === 1;
      });
      const lifts = (name !== undefined && TIMEOUT_SETTINGS.has(name.toLowerCase())) || serializable(body);
      const encodes = name?.toLowerCase() === 'client_encoding' || body.kind === 'VAR_RESET_ALL';
      return { kind: 'session', orderBy: false, ...(body.is_local ? { local: true } : {}), ...(lifts ? { lifts } : {}), ...(encodes ? { encodes } : {}), ...(role ? { sourceOnly: 'role changed' } : {}), ...(readOnly ? { readOnly } : {}), ...settingKey(body) };
    }
    case 'PrepareStmt':
      return { kind: 'session', orderBy: false, prepares: body.name as string };
    case 'DeallocateStmt':
      return { kind: 'session', orderBy: false, deallocates: (body.name as string | undefined) ?? '*' };
    case 'DiscardStmt':
      return { kind: 'session', orderBy: false, ...(body.target === 'DISCARD_ALL' ? { deallocates: '*', setting: '*' } : {}) };
    // the source sends a notification committed before a query ahead of that query's answer (clients count on
    // it): a routed read's answer from the new database could overtake it, so a listening session reads from the source
    case 'ListenStmt':
      return { kind: 'session', orderBy: false, sourceOnly: 'LISTEN' };
    case 'VariableShowStmt':
    case 'UnlistenStmt':
    case 'CheckPointStmt':
    // maintenance changes no rows and no schema: the source runs it, DDL refusal does not apply
    case 'VacuumStmt':
    case 'ReindexStmt':
    case 'ClusterStmt':
      return { kind: 'session', orderBy: false };
    default:
      return { kind: 'ddl', orderBy: false };
  }
}

const TXN_KINDS: Record<string, TxnOp> = {
  TRANS_STMT_BEGIN: 'begin',
  TRANS_STMT_START: 'begin',
  TRANS_STMT_COMMIT: 'commit',
  TRANS_STMT_ROLLBACK: 'rollback',
  TRANS_STMT_SAVEPOINT: 'savepoint',
  TRANS_STMT_RELEASE: 'release',
  TRANS_STMT_ROLLBACK_TO: 'rollback_to',
  TRANS_STMT_PREPARE: 'prepare',
  TRANS_STMT_COMMIT_PREPARED: 'commit_prepared',
  TRANS_STMT_ROLLBACK_PREPARED: 'rollback_prepared',
};

function txnInfo(body: Node): Omit<StatementInfo, 'text' | 'at' | 'node'> {
  const txn = TXN_KINDS[body.kind as string] ?? 'begin';
  let readOnly = false;
  for (const o of (body.options as Node[] | undefined) ?? []) {
    const d = o.DefElem as Node | undefined;
    if (d?.defname === 'transaction_read_only') {
      const v = ((d.arg as Node | undefined)?.A_Const as Node | undefined)?.ival as Node | undefined;
      readOnly = v?.ival === 1;
    }
  }
  const chain = body.chain === true && (txn === 'commit' || txn === 'rollback');
  return { kind: 'txn', txn, readOnly, orderBy: false, ...(chain ? { chain } : {}), ...(serializable(body) ? { lifts: true as const } : {}) };
}

/** BEGIN, SET TRANSACTION, SET SESSION CHARACTERISTICS or SET default_transaction_isolation naming SERIALIZABLE (StatementInfo.lifts). */
function serializable(body: Node): boolean {
  return anyNode(body, (_k, v) => typeof v === 'string' && v.toLowerCase() === 'serializable');
}

/** Settings that can stop the proxy's own statements in a session's transaction (StatementInfo.lifts). */
const TIMEOUT_SETTINGS = new Set(['statement_timeout', 'idle_in_transaction_session_timeout']);

/** StatementInfo.setting of a VariableSetStmt. */
function settingKey(body: Node): { setting?: string } {
  const name = body.name as string | undefined;
  if (body.is_local || name === 'TRANSACTION') return {};
  if (body.kind === 'VAR_RESET_ALL') return { setting: '*' };
  if (!name) return {};
  if (body.kind !== 'VAR_SET_MULTI') return { setting: name.toLowerCase() };
  const named = ((body.args as Node[] | undefined) ?? []).map((a) => String((a.DefElem as Node | undefined)?.defname ?? '')).sort();
  return { setting: `${name.toLowerCase()}:${named.join(',')}` };
}

/**
 * Whether `test` holds for some key and its value anywhere in a parse tree.
 * A loop over a stack of its own, not recursion: PostgreSQL parses and runs
 * 2,000 nested subqueries, whose tree is deeper than JavaScript's call stack.
 */
function anyNode(root: unknown, test: (key: string, value: unknown) => boolean): boolean {
  const pending: unknown[] = [root];
  while (pending.length) {
    const node = pending.pop();
    if (!node || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      for (const n of node) pending.push(n);
      continue;
    }
    for (const k of Object.keys(node)) {
      const v = (node as Node)[k];
      if (test(k, v)) return true;
      pending.push(v);
    }
  }
  return false;
}

/** A FuncCall's name parts, e.g. ['pg_catalog', 'now']. */
const funcName = (call: unknown): (string | undefined)[] => (((call as Node).funcname as Node[] | undefined) ?? []).map((n) => (n.String as Node | undefined)?.sval as string | undefined);

/**
 * A relation of pg_catalog or information_schema, named so or unqualified
 * with the pg_ prefix (pg_catalog comes first on any search_path), or a
 * function that describes the server running it (SERVER_FUNCTIONS), a cast
 * to an object-number type (regclass, regtype …), or a system column (xmin …).
 */
function readsSystemCatalogs(node: unknown): boolean {
  return anyNode(node, (k, v) => {
    // a plan, its costs and timings are the server's own
    if (k === 'ExplainStmt') return true;
    if (k === 'RangeVar') {
      const r = v as { schemaname?: string; relname?: string };
      return r.schemaname === 'pg_catalog' || r.schemaname === 'information_schema' || (!r.schemaname && Boolean(r.relname?.startsWith('pg_')));
    }
    if (k === 'TypeCast') return castsToObjectNumber(v);
    if (k === 'ColumnRef') return namesSystemColumn(v);
    if (k === 'SQLValueFunction') return SERVER_VALUES.has(String((v as { op?: string }).op));
    if (k !== 'FuncCall') return false;
    const names = funcName(v);
    const last = names[names.length - 1];
    if (!last || (names.length > 1 && names[0] !== 'pg_catalog')) return false;
    return SERVER_FUNCTIONS.has(last) || (last === 'current_setting' && namesSourceSetting(v));
  });
}

function readsPreparedStatements(node: unknown): boolean {
  return anyNode(node, (k, v) => {
    if (k === 'RangeVar') {
      const r = v as { schemaname?: string; relname?: string };
      return r.relname === 'pg_prepared_statements' && (!r.schemaname || r.schemaname === 'pg_catalog');
    }
    if (k !== 'FuncCall') return false;
    const names = funcName(v);
    return names.at(-1) === 'pg_prepared_statement' && (names.length === 1 || names[0] === 'pg_catalog');
  });
}

/**
 * A row's system columns are its place on the server that holds it: xmin,
 * which EF Core and others read as a row version and send back in
 * `UPDATE … WHERE xmin = $n`, ctid for `WHERE ctid = …`, tableoid. The new
 * database's differ, and such an UPDATE on the source then matched no row.
 * No user column may take these names (PostgreSQL refuses them).
 */
const SYSTEM_COLUMNS = new Set(['xmin', 'xmax', 'cmin', 'cmax', 'ctid', 'tableoid']);

function namesSystemColumn(ref: unknown): boolean {
  const last = ((ref as { fields?: Node[] }).fields ?? []).at(-1)?.String as { sval?: string } | undefined;
  return last?.sval !== undefined && SYSTEM_COLUMNS.has(last.sval);
}

/**
 * `session_user` and `current_catalog`: the new database's session logs in as
 * the target URL's role (acting as the client's, which current_user shows),
 * into a database that may be named otherwise (the proxy's database map).
 */
const SERVER_VALUES = new Set(['SVFOP_SESSION_USER', 'SVFOP_CURRENT_CATALOG']);

/** The object-identifier types: a cast to one looks the name up in the catalogs of the server that runs it. */
const OBJECT_NUMBER_TYPES = new Set(['regclass', 'regtype', 'regproc', 'regprocedure', 'regoper', 'regoperator', 'regnamespace', 'regrole', 'regconfig', 'regdictionary', 'regcollation']);

/**
 * `'t'::regclass::oid`, `$1::regtype`, `16440::regtype::text`: the answer is
 * the server's own object number or name for it, and the new database numbers
 * objects otherwise (a client then looks the number up in the source's catalogs).
 */
function castsToObjectNumber(cast: unknown): boolean {
  const names = (((cast as { typeName?: { names?: Node[] } }).typeName?.names) ?? []).map((n) => (n.String as Node | undefined)?.sval as string | undefined);
  const last = names.at(-1);
  return last !== undefined && OBJECT_NUMBER_TYPES.has(last) && (names.length === 1 || names[0] === 'pg_catalog');
}

/**
 * Settings only the source can answer for the session: transaction_read_only
 * and its default (the new database's read connections are READ ONLY by the
 * proxy's doing, read-only-target.ts), and those that describe the server
 * itself. The new database is often a newer major version, with another
 * encoding: a client that reads server_version_num to choose its SQL must get
 * the version the start-up's ParameterStatus gave it. Not port: which server
 * answered a routed read is what it is asked for.
 */
const SOURCE_SETTINGS = new Set([
  'transaction_read_only', 'default_transaction_read_only', 'server_version', 'server_version_num', 'server_encoding',
  'lc_collate', 'lc_ctype', 'listen_addresses', 'data_directory', 'config_file', 'hba_file', 'ident_file',
  'cluster_name', 'max_connections', 'shared_buffers', 'block_size', 'wal_level', 'in_hot_standby', 'is_superuser', 'session_authorization',
]);

function namesSourceSetting(call: unknown): boolean {
  const arg = ((call as { args?: Node[] }).args ?? [])[0]?.A_Const as { sval?: { sval?: string } } | undefined;
  const name = arg?.sval?.sval?.toLowerCase();
  return name !== undefined && SOURCE_SETTINGS.has(name);
}

/** A current_setting() call given its setting's name as a literal: namesSourceSetting() decides by that name. */
function readsSettingByName(node: unknown): boolean {
  return anyNode(node, (k, v) => k === 'FuncCall' && funcName(v).at(-1) === 'current_setting' && ((v as { args?: Node[] }).args ?? [])[0]?.A_Const !== undefined);
}

/** Every relation a parse tree names (RangeVar), as `schema.name` or `name`. */
function relationsNamed(node: unknown): string[] {
  const out = new Set<string>();
  anyNode(node, (k, v) => {
    if (k === 'RangeVar') {
      const r = v as { schemaname?: string; relname?: string };
      if (r.relname) out.add(r.schemaname ? `${r.schemaname}.${r.relname}` : r.relname);
    }
    return false;
  });
  return [...out];
}

/** set_config() changes settings the target's session never learns (only SET is carried over). */
function callsSetConfig(node: unknown): boolean {
  return anyNode(node, (k, v) => {
    if (k !== 'FuncCall') return false;
    const names = funcName(v);
    return names[names.length - 1] === 'set_config' && (names.length === 1 || names[0] === 'pg_catalog');
  });
}

/** A relation's name when it names no schema but pg_temp: only such a name can be the session's temporary relation. */
function unqualifiedOrTemp(rel: unknown): string | null {
  const r = rel as { relname?: string; schemaname?: string; catalogname?: string } | undefined;
  if (!r?.relname || r.catalogname) return null;
  return r.schemaname === undefined || r.schemaname === 'pg_temp' ? r.relname : null;
}

/** The relation a COMMENT ON TABLE / VIEW / SEQUENCE / INDEX / COLUMN names, unqualified or in pg_temp; else null. */
function commentedRelation(body: Node): string | null {
  const column = body.objtype === 'OBJECT_COLUMN';
  if (!column && !['OBJECT_TABLE', 'OBJECT_SEQUENCE', 'OBJECT_VIEW', 'OBJECT_INDEX'].includes(body.objtype as string)) return null;
  const parts = (((body.object as Node | undefined)?.List as Node | undefined)?.items as Node[] | undefined ?? []).map((i) => (i.String as Node | undefined)?.sval as string | undefined);
  const rel = column ? parts.slice(0, -1) : parts;
  if (rel.some((p) => p === undefined)) return null;
  if (rel.length === 1) return rel[0]!;
  return rel.length === 2 && rel[0] === 'pg_temp' ? rel[1]! : null;
}

/** The relations a DROP TABLE / SEQUENCE / VIEW / INDEX names (as written, `pg_temp.` dropped), or null for other objects. */
function dropNames(body: Node): string[] | null {
  if (!['OBJECT_TABLE', 'OBJECT_SEQUENCE', 'OBJECT_VIEW', 'OBJECT_INDEX'].includes(body.removeType as string)) return null;
  const names: string[] = [];
  for (const o of (body.objects as Node[] | undefined) ?? []) {
    const parts = (((o.List as Node | undefined)?.items as Node[] | undefined) ?? []).map((i) => (i.String as Node | undefined)?.sval as string | undefined);
    const last = parts[parts.length - 1];
    if (!last || parts.some((p) => p === undefined)) return null;
    if (parts.length === 2 && parts[0] !== 'pg_temp') return null;
    if (parts.length > 2) return null;
    names.push(last);
  }
  return names;
}

/** A call of a function that may change the session for what follows (Classification.callsFunctions). */
function callsUnknownFunction(node: unknown): boolean {
  return anyNode(node, (k, v) => {
    if (k !== 'FuncCall') return false;
    const name = funcName(v).join('.');
    return !isReadOnlyFunction(name) && !isSessionNeutral(name);
  });
}

/** Any data-modifying node (writable CTE), row lock, or call of a function not known to be read-only. */
function writesIn(node: unknown): boolean {
  return anyNode(node, (k, v) =>
    k === 'InsertStmt' || k === 'UpdateStmt' || k === 'DeleteStmt' || k === 'MergeStmt' ||
    (k === 'lockingClause' && Array.isArray(v) && v.length > 0) ||
    (k === 'FuncCall' && !isReadOnlyFunction(funcName(v).join('.'))));
}

/** Functions whose value differs at every call, wherever they appear. */
const RANDOM_FUNCTIONS = new Set(['random', 'random_normal', 'gen_random_uuid', 'uuid_generate_v1', 'uuid_generate_v1mc', 'uuid_generate_v4', 'gen_random_bytes', 'gen_salt', 'clock_timestamp', 'timeofday']);
/**
 * Functions of the moment or of the server: in a select list the two reads
 * answer differently; in a WHERE clause they rarely change which rows match,
 * and the re-read of a mismatch settles that.
 */
const MOMENT_FUNCTIONS = new Set(['now', 'transaction_timestamp', 'statement_timestamp', 'current_database', 'current_setting']);
const MOMENT_VALUES = /^SVFOP_(CURRENT_DATE|CURRENT_TIME|LOCALTIME|CURRENT_CATALOG)/;
/** Aggregates and window functions whose answer follows the order rows come in, unless they are given one. */
const ORDER_SENSITIVE_AGGREGATES = new Set(['array_agg', 'string_agg', 'json_agg', 'jsonb_agg', 'json_agg_strict', 'jsonb_agg_strict', 'json_object_agg', 'jsonb_object_agg', 'json_object_agg_strict', 'jsonb_object_agg_strict', 'json_object_agg_unique', 'jsonb_object_agg_unique', 'xmlagg']);
const ORDER_SENSITIVE_WINDOWS = new Set(['row_number', 'first_value', 'last_value', 'nth_value', 'lag', 'lead', 'ntile']);

/** Whether a read's answer may differ between two runs over the same rows (Classification.unstable). */
function unstableAnswer(stmt: Node): boolean {
  return anyNode(stmt, (k, v) => {
    if (k === 'RangeTableSample' || k === 'JsonArrayAgg' || k === 'JsonObjectAgg') return true;
    if (k === 'FuncCall') {
      const call = v as { agg_order?: unknown[]; over?: { orderClause?: unknown[] } };
      const names = funcName(v);
      const last = names[names.length - 1] ?? '';
      if (RANDOM_FUNCTIONS.has(last)) return true;
      if (ORDER_SENSITIVE_AGGREGATES.has(last) && !call.agg_order?.length && !call.over?.orderClause?.length) return true;
      return call.over !== undefined && ORDER_SENSITIVE_WINDOWS.has(last) && !call.over.orderClause?.length;
    }
    if (k !== 'SelectStmt') return false;
    const select = v as { limitCount?: unknown; limitOffset?: unknown; sortClause?: unknown[]; distinctClause?: Node[]; targetList?: unknown[] };
    const ordered = Boolean(select.sortClause?.length);
    // which rows a LIMIT or DISTINCT ON keeps follows the order they are read in
    if (!ordered && (select.limitCount !== undefined || select.limitOffset !== undefined)) return true;
    if (!ordered && select.distinctClause?.some((d) => Object.keys(d).length > 0)) return true;
    return anyNode(select.targetList, (tk, tv) =>
      (tk === 'FuncCall' && momentCall(tv)) ||
      (tk === 'SQLValueFunction' && MOMENT_VALUES.test(String((tv as { op?: string }).op))));
  });
}

/** A call of the moment: now() and the like, or age() of one value (its distance from today). */
function momentCall(call: unknown): boolean {
  const name = funcName(call).at(-1) ?? '';
  return MOMENT_FUNCTIONS.has(name) || (name === 'age' && ((call as { args?: unknown[] }).args?.length ?? 0) === 1);
}

/** ORDER BY keys that name an output column (`ORDER BY name`, `ORDER BY 2`), or null if any is an expression. */
function outputSortKeys(sortClause: Node[]): (string | number)[] | null {
  const keys: (string | number)[] = [];
  for (const item of sortClause) {
    const key = (item.SortBy as Node | undefined)?.node as Node | undefined;
    const fields = (key?.ColumnRef as Node | undefined)?.fields as Node[] | undefined;
    const position = ((key?.A_Const as Node | undefined)?.ival as Node | undefined)?.ival;
    // unqualified only: `ORDER BY t.name` is the input column, which an output column of that name need not be
    const name = fields?.length === 1 ? (fields[0]!.String as Node | undefined)?.sval : undefined;
    if (typeof name === 'string') keys.push(name);
    else if (typeof position === 'number') keys.push(position);
    else return null;
  }
  return keys;
}
