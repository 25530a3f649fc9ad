// PostgreSQL SQL → SQLite SQL: parse with PostgreSQL's parser (libpg-query),
// rewrite the AST where SQLite has a faithful equivalent, refuse the rest with
// 0A000 naming the construct, print with pgsql-deparser (deparse-sqlite.ts).
// Results are cached by SQL text. No regexes over user SQL.
import pgQuery from 'libpg-query';
import { checkNumeric, fitInt, fitsInt, outOfRange, SERIES_FUNCTION, type Bits } from './checks.ts';
import { PgError, stackDepthError, TWO_PHASE, unsupported } from './errors.ts';
import { deparseForSqlite, SQLITE_TYPE } from './deparse-sqlite.ts';
import { groupingChecks, hasAggregate, type GroupingCheck } from './grouping.ts';
import { columnHintOf, hintOf, targetColumnHints, targetHints, targetNames, targetParams, typeNameOid, type ColumnHint } from './hints.ts';
import { boundable, checkFloatInput, checkTimeInput, decimalBound, decimalParts, decodeTextParam, keepsWhole, keptWhole, OID, parseIntInput, readsSession, type SqlValue } from './types.ts';
import { hasZone } from '../../common/timestamp-text.ts';
import { copyStatement, type CopyStatement } from './copy-statement.ts';
import { closeCursor, declareCursor, fetchCursor, type CursorStatement } from './cursor-statements.ts';
import { catalogRelations, catalogStatement, onlyCatalog } from './catalog-translate.ts';
import { NodeRewriter } from './node-rewriter.ts';

/** Date-time input words whose value is the moment a statement runs. */

type AnyNode = Record<string, any>;

export type TxnOp = 'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollback_to' | 'prepare';

/** A reference `column op $n` (or INSERT/UPDATE position) that types parameter n like the column. */
export interface ParamColumn {
  param: number;
  qualifier?: string;
  /** Its name, or its position in the table (INSERT without a column list). */
  column: string | number;
}

/**
 * The values an INSERT or UPDATE writes, for the checks of the columns' types
 * (checks.ts): parameters and integer constants are checked by the session
 * before the statement runs; other values are wrapped in cutover_put(value, i).
 */
export interface WriteTargets {
  table: string;
  /** Column names, or positions for an INSERT without a column list; `column` below indexes this. */
  columns: (string | number)[];
  params: { param: number; column: number }[];
  consts: { value: SqlValue; column: number }[];
}

export interface SqlStatement {
  kind: 'sql';
  sql: string;
  /** Command tag without the row count: SELECT, INSERT, UPDATE, DELETE, CREATE TABLE … */
  tag: string;
  /** Highest $n used. */
  params: number;
  /** Parameter types fixed by casts in the text ($1::int8). */
  paramTypes: Map<number, number>;
  paramColumns: ParamColumn[];
  /** Tables named by the statement, with aliases, for resolving paramColumns. */
  tables: { name: string; alias?: string }[];
  /** Result column OIDs evident from the text, by position (empty when unknown). */
  hints: (number | undefined)[];
  /** Result columns typed by a table column they aggregate, where `hints` has nothing (hints.ts). */
  columnHints: (ColumnHint | undefined)[];
  /** Result columns that are a bare parameter ($n), typed as the parameter where `hints` has nothing. */
  paramTargets: (number | undefined)[];
  /** Result column names PostgreSQL would give, by position (empty when unknown: use SQLite's). */
  names: string[];
  /** SELECT … FOR UPDATE/SHARE: takes the write lock, like a write. */
  locking: boolean;
  /** Reports `INSERT 0 n` etc. with the statement's own change count. */
  countsChanges: boolean;
  /**
   * String constants written into or compared with a column, made parameters
   * $params+1… so the engine converts them as it converts the column's bound
   * values ('yes' into a boolean is 1, as 'true' bound is): SQLite would keep
   * the text as written. `compare`: in a comparison (dates and times compare
   * as stored text there, so those stay as written).
   */
  literals: { text: string; compare: boolean; oid?: number; typed?: ColumnHint; bound?: DecimalBound; param?: number }[];
  /** Parameters ($n::numeric) that only bound comparisons (literals' `param`): read as the text given, not refused past 15 digits. */
  boundParams?: number[];
  write?: WriteTargets;
  /** INSERT … VALUES (several rows) ON CONFLICT (…) DO UPDATE: the rows' key values, checked apart by the session. */
  conflict?: ConflictRows;
  /** Grouped SELECTs' column references, checked by the session against the tables (grouping.ts). */
  grouping: GroupingCheck[];
  /**
   * Columns whose declared type the session binds as parameters
   * $params+literals+1…: their text form (::text, ||, concat) follows it
   * (cutover_text), and the translation stays the same for every schema.
   */
  columnTypes: { qualifier?: string; column: string }[];
  /** Reads the session's pg_catalog (catalog-translate.ts): the session fills it for the file's schema first. */
  catalog?: boolean;
}

/** A decimal SQLite cannot hold, compared with a column: bound as the column's nearest value on that side of it (types.ts, decimalBound). */
export type DecimalBound = 'above' | 'below';

/**
 * PostgreSQL refuses (21000) an ON CONFLICT DO UPDATE whose rows propose one
 * key twice; SQLite updates the row a second time. Each row's key cells: a
 * parameter, a constant's text, 'null' (never a conflict), or unknown (an
 * expression: the row is not checked).
 */
export interface ConflictRows {
  target: string[];
  /** The INSERT's column list; null: the table's columns in order. */
  columns: string[] | null;
  rows: ({ param: number } | { value: string } | 'null' | 'unknown')[][];
}

export type Statement =
  | SqlStatement
  | { kind: 'txn'; op: TxnOp; tag: string; name?: string; readOnly?: boolean; chain?: boolean }
  | { kind: 'set'; name: string; value: string | null; tag: string; local?: boolean }
  | { kind: 'reset_all'; tag: string }
  | { kind: 'show'; name: string }
  | { kind: 'deallocate'; name: string | null; tag: string }
  | { kind: 'discard'; tag: string }
  | { kind: 'noop'; tag: string }
  | SleepStatement
  /** One statement that SQLite runs as several (DROP or TRUNCATE of several tables), atomic as one. */
  | { kind: 'seq'; parts: SqlStatement[]; tag: string }
  | CopyRun
  /** VACUUM / ANALYZE: SQLite's ANALYZE for the tables named (all when none); VACUUM does nothing more. */
  | { kind: 'maintenance'; vacuum: boolean; analyze: boolean; tables: string[]; tag: string }
  /** ALTER TABLE … ADD PRIMARY KEY / UNIQUE (table-rebuild.ts). */
  | AddKey
  /** DECLARE … CURSOR FOR, FETCH / MOVE, CLOSE (cursor-statements.ts). */
  | CursorStatement
  | { kind: 'error'; error: PgError };

/** COPY, with the query of COPY … TO (a table's columns, or the query given) translated as a SELECT. */
export type CopyRun = Omit<CopyStatement, 'query'> & { select: SqlStatement | null };

export interface AddKey {
  kind: 'add_key';
  table: string;
  columns: string[];
  primary: boolean;
  /** The constraint's name as written; null: PostgreSQL's default name. */
  name: string | null;
  tag: string;
}

/**
 * `SELECT pg_sleep(s)` on its own: the engine waits without blocking other
 * sessions (an SQLite function would stop the process), and a cancel or
 * statement_timeout ends the wait with 57014. `param`: the seconds are $1.
 */
export interface SleepStatement {
  kind: 'sleep';
  seconds: number | null;
  param: number | null;
  name: string;
}

let loaded: Promise<void> | null = null;
export function loadTranslator(): Promise<void> {
  loaded ??= pgQuery.loadModule();
  return loaded;
}

const CACHE_MAX = 5_000;
const cache = new Map<string, Statement[]>();

/** Translate a query string (possibly several statements). Parse errors come back as one error statement. */
export function translate(sql: string): Statement[] {
  const hit = cache.get(sql);
  if (hit) return hit;
  let out: Statement[];
  if (sql.trim() === '') return []; // the empty query (libpg-query refuses an empty string)
  try {
    const tree = pgQuery.parseSync(sql) as { stmts?: { stmt: AnyNode }[] };
    out = (tree.stmts ?? []).map((s) => translateOne(s.stmt));
  } catch (e) {
    out = [{ kind: 'error', error: stackDepthError(e) ?? new PgError('42601', (e as Error).message) }];
  }
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value as string);
  cache.set(sql, out);
  return out;
}

/**
 * A decimal constant SQLite reads as another number (keptWhole: past 15
 * significant digits, 12345678901234.123456): its text, else undefined.
 * Integers past 64 bits are judged where they are used (bigint out of range,
 * as PostgreSQL words it).
 */
/** The number of a parameter cast to a bare numeric (`$1::numeric`). */
function numericParam(n: AnyNode | undefined): number | undefined {
  const c = n?.TypeCast;
  if (!c?.arg?.ParamRef || c.typeName?.typmods?.length || typeNameOid(c.typeName) !== OID.numeric) return undefined;
  return c.arg.ParamRef.number as number;
}

function inexactDecimal(n: AnyNode | undefined): string | undefined {
  const t = n?.A_Const?.fval?.fval;
  return typeof t === 'string' && !/^[+-]?\d+$/.test(t) && !keepsWhole(t) ? t : undefined;
}

function translateOne(stmt: AnyNode): Statement {
  try {
    return statement(stmt);
  } catch (e) {
    if (e instanceof PgError) return { kind: 'error', error: e };
    return { kind: 'error', error: stackDepthError(e) ?? new PgError('XX000', `cannot translate statement for SQLite: ${(e as Error).message}`) };
  }
}

const str = (n: AnyNode | undefined): string => n?.String?.sval ?? '';
const lastName = (names: AnyNode[] | undefined): string => str(names?.[names.length - 1]).toLowerCase();

function constText(n: AnyNode | undefined): string {
  const c = n?.A_Const;
  if (!c) {
    if (n?.TypeCast) return constText(n.TypeCast.arg);
    throw unsupported('a non-constant value here');
  }
  if (c.sval) return c.sval.sval ?? '';
  if (c.ival) return String(c.ival.ival ?? 0);
  if (c.fval) return c.fval.fval;
  if (c.boolval) return c.boolval.boolval ? 'on' : 'off';
  return '';
}

function statement(stmt: AnyNode): Statement {
  const [type, n] = Object.entries(stmt)[0] as [string, AnyNode];
  if (type === 'SelectStmt') {
    const sleep = sleepCall(n);
    if (sleep) return sleep;
    const catalog = catalogRelations(n);
    if (catalog.size) {
      if (onlyCatalog(catalog)) return catalogStatement(stmt);
      // pg_type and pg_namespace alone: as drivers have always been answered, else (psql's \dn) the catalog dialect
      try {
        return sqlStatement(type, structuredClone(stmt));
      } catch (e) {
        if (e instanceof PgError && e.code === '0A000') return catalogStatement(stmt);
        throw e;
      }
    }
  }
  switch (type) {
    case 'TransactionStmt':
      return transaction(n);
    case 'VariableSetStmt':
      return variableSet(n);
    case 'VariableShowStmt':
      if (n.name === 'all') throw unsupported('SHOW ALL');
      return { kind: 'show', name: String(n.name).toLowerCase() };
    case 'DeallocateStmt':
      return { kind: 'deallocate', name: n.isall ? null : n.name, tag: 'DEALLOCATE' + (n.isall ? ' ALL' : '') };
    case 'DiscardStmt':
      return { kind: 'discard', tag: n.target === 'DISCARD_ALL' ? 'DISCARD ALL' : 'DISCARD' };
    case 'SelectStmt':
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'CreateStmt':
    case 'IndexStmt':
    case 'ViewStmt':
    case 'RenameStmt':
      return sqlStatement(type, stmt);
    case 'AlterTableStmt':
      return addKey(n) ?? sqlStatement(type, stmt);
    case 'DropStmt': {
      // several objects: one DROP each, in the statement's transaction (all or none, as PostgreSQL drops them)
      const objects: AnyNode[] = n.objects ?? [];
      if (objects.length < 2) return sqlStatement(type, stmt);
      const tag = dropTag({ ...n, objects: [objects[0]] });
      return { kind: 'seq', tag, parts: objects.map((o) => sqlStatement(type, { DropStmt: { ...structuredClone(n), objects: [structuredClone(o)] } })) };
    }
    case 'TruncateStmt': {
      if (n.restart_seqs || n.behavior === 'DROP_CASCADE') throw unsupported('TRUNCATE … RESTART IDENTITY / CASCADE');
      const parts = (n.relations as AnyNode[]).map((r) => ({ ...sqlStatement('DeleteStmt', { DeleteStmt: { relation: r.RangeVar } }), tag: 'TRUNCATE TABLE', countsChanges: false }));
      return parts.length === 1 ? parts[0]! : { kind: 'seq', tag: 'TRUNCATE TABLE', parts };
    }
    case 'CopyStmt':
      return copyRun(n);
    case 'VacuumStmt':
      return maintenance(n);
    case 'DeclareCursorStmt':
      return declareCursor(n, (query) => statement(structuredClone(query)));
    case 'FetchStmt':
      return fetchCursor(n);
    case 'ClosePortalStmt':
      return closeCursor(n);
    default:
      throw unsupported(statementName(type));
  }
}

/** `SELECT pg_sleep(<number or $1>) [AS name]` and nothing else; null for any other SELECT. */
function sleepCall(n: AnyNode): SleepStatement | null {
  const clauses = ['fromClause', 'whereClause', 'groupClause', 'havingClause', 'sortClause', 'limitCount', 'limitOffset', 'valuesLists', 'withClause', 'distinctClause', 'lockingClause', 'intoClause', 'windowClause'];
  if (clauses.some((c) => n[c]) || (n.op && n.op !== 'SETOP_NONE') || n.targetList?.length !== 1) return null;
  const target = n.targetList[0].ResTarget;
  const call = target?.val?.FuncCall;
  const names: AnyNode[] = call?.funcname ?? [];
  if (!call || lastName(names) !== 'pg_sleep' || (names.length > 1 && str(names[0]) !== 'pg_catalog')) return null;
  if (call.args?.length !== 1 || call.agg_star || call.over || call.agg_filter) return null;
  let arg = call.args[0] as AnyNode;
  if (arg.TypeCast && ['float8', 'numeric', 'int4', 'int8', 'float4'].includes(lastName(arg.TypeCast.typeName?.names))) arg = arg.TypeCast.arg;
  const name = target.name ?? 'pg_sleep';
  if (arg.ParamRef?.number === 1) return { kind: 'sleep', seconds: null, param: 1, name };
  const c = arg.A_Const;
  if (!c) return null;
  if (c.isnull) return { kind: 'sleep', seconds: null, param: null, name };
  const seconds = c.ival ? Number(c.ival.ival ?? 0) : c.fval ? Number(c.fval.fval) : c.sval && DECIMAL_TEXT.test(c.sval.sval) ? Number(c.sval.sval) : NaN;
  return Number.isNaN(seconds) ? null : { kind: 'sleep', seconds, param: null, name };
}

const DECIMAL_TEXT = /^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/;

function statementName(type: string): string {
  const words = type.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
  return `the ${words} statement`;
}

function transaction(n: AnyNode): Statement {
  switch (n.kind) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START': {
      const readOnly = readOnlyOption(n.options);
      return { kind: 'txn', op: 'begin', tag: n.kind === 'TRANS_STMT_BEGIN' ? 'BEGIN' : 'START TRANSACTION', ...(readOnly !== undefined ? { readOnly } : {}) };
    }
    case 'TRANS_STMT_COMMIT':
      return { kind: 'txn', op: 'commit', tag: 'COMMIT', ...(n.chain ? { chain: true } : {}) };
    case 'TRANS_STMT_ROLLBACK':
      return { kind: 'txn', op: 'rollback', tag: 'ROLLBACK', ...(n.chain ? { chain: true } : {}) };
    case 'TRANS_STMT_SAVEPOINT':
      return { kind: 'txn', op: 'savepoint', tag: 'SAVEPOINT', name: n.savepoint_name };
    case 'TRANS_STMT_RELEASE':
      return { kind: 'txn', op: 'release', tag: 'RELEASE', name: n.savepoint_name };
    case 'TRANS_STMT_ROLLBACK_TO':
      return { kind: 'txn', op: 'rollback_to', tag: 'ROLLBACK', name: n.savepoint_name };
    case 'TRANS_STMT_PREPARE':
      // refused when run (session-engine.ts), where it also ends the transaction as a failed PREPARE does
      return { kind: 'txn', op: 'prepare', tag: 'PREPARE TRANSACTION' };
    default:
      throw unsupported(TWO_PHASE);
  }
}

/**
 * `(VALUES …) AS x(a, b)`, the usual way to join or UPDATE … FROM a list of
 * rows: SQLite has no column list on an alias, and names a VALUES list's
 * columns column1, column2, … So the list is selected from under those names,
 * as `(SELECT column1 AS a, column2 AS b FROM (VALUES …)) AS x`. Other
 * subqueries with a column list are refused.
 */
function valuesWithColumnNames(n: AnyNode): void {
  const values = n.subquery?.SelectStmt as AnyNode | undefined;
  const width = (values?.valuesLists?.[0]?.List?.items as AnyNode[] | undefined)?.length;
  if (!values?.valuesLists || !width) throw unsupported('column alias lists on a subquery alias (t(a, b)) other than of a VALUES list');
  const names = (n.alias.colnames as AnyNode[]).map((c) => String(c.String?.sval));
  if (names.length > width) {
    throw new PgError('42P10', `table "${String(n.alias.aliasname)}" has ${width} columns available but ${names.length} columns specified`);
  }
  const targets = Array.from({ length: width }, (_, i): [string, AnyNode] => [names[i] ?? `column${i + 1}`, columnRef(`column${i + 1}`)]);
  n.subquery = renamingSelect(targets, { RangeSubselect: { subquery: { SelectStmt: values }, alias: { aliasname: 'cutover_values' } } });
  delete n.alias.colnames;
}

/**
 * generate_series(start, stop[, step]) in FROM, over numbers: the engine's
 * table function (checks.ts, cutover_generate_series), its one column named
 * as PostgreSQL names a scalar function's: the column alias, else the table
 * alias, else generate_series. `(SELECT value AS g FROM
 * cutover_generate_series(…)) AS g`. Other functions in FROM are refused.
 */
function seriesInFrom(n: AnyNode, self: AnyNode): AnyNode {
  const calls = (n.functions as AnyNode[] | undefined) ?? [];
  const call = calls.length === 1 ? (calls[0]!.List?.items?.[0]?.FuncCall as AnyNode | undefined) : undefined;
  if (call?.[NATIVE]) return self; // the engine's own, put here by seriesTable
  const series = isSeries(call?.funcname);
  if (!series || n.lateral || n.ordinality || n.is_rowsfrom || n.coldeflist?.length) {
    throw unsupported('functions in FROM (generate_series, unnest, …)', series ? 'generate_series(start, stop[, step]) over numbers is, without WITH ORDINALITY or LATERAL' : undefined);
  }
  const alias: string = n.alias?.aliasname ?? 'generate_series';
  const column: string = (n.alias?.colnames?.[0]?.String?.sval as string | undefined) ?? alias;
  if ((n.alias?.colnames?.length ?? 0) > 1) throw new PgError('42601', `too many column aliases specified for function generate_series`);
  return { RangeSubselect: { subquery: renamingSelect([[column, columnRef('value')]], seriesTable(call!.args ?? [])), alias: { aliasname: alias } } };
}

/**
 * An unaliased result column that is an expression gets the name PostgreSQL
 * gives it (`id::text` is "id", `lower(x)` is "lower"), written as an alias:
 * ORDER BY a name means that output column in PostgreSQL, and in SQLite only
 * when it is an alias. `SELECT id::text FROM t ORDER BY id` sorted numbers,
 * not text. (GROUP BY prefers input columns in both.)
 */
function nameTargets(targets: AnyNode[] | undefined, names: string[]): void {
  (targets ?? []).forEach((t, i) => {
    const r = t.ResTarget;
    if (!r?.val || r.name || r.val.ColumnRef || r.val.A_Star || !names[i] || names[i] === '?column?') return;
    r.name = names[i];
  });
}

/**
 * The types of result columns that are a generate_series in FROM (`SELECT *
 * FROM generate_series(1, 3)`, `SELECT s.day … FROM generate_series(…) AS
 * s(day) JOIN …`): its arguments' type, known before it runs, as a client
 * that describes first (postgres.js) needs it. The engine's table function
 * has no declared column type.
 */
function seriesHints(select: AnyNode, hints: (number | undefined)[]): (number | undefined)[] {
  const series = new Map<string, { column: string; oid: number }>();
  const visit = (f: AnyNode | undefined): void => {
    if (f?.JoinExpr) return (visit(f.JoinExpr.larg), visit(f.JoinExpr.rarg));
    const call = f?.RangeFunction?.functions?.length === 1 ? f.RangeFunction.functions[0].List?.items?.[0] : undefined;
    if (!call?.FuncCall || !isSeries(call.FuncCall.funcname)) return;
    const alias: string = f!.RangeFunction.alias?.aliasname ?? 'generate_series';
    series.set(alias, { column: (f!.RangeFunction.alias?.colnames?.[0]?.String?.sval as string | undefined) ?? alias, oid: hintOf(call)! });
  };
  for (const f of select.fromClause ?? []) visit(f);
  if (!series.size) return hints;
  const targets: AnyNode[] = (select.targetList ?? []).map((t: AnyNode) => t.ResTarget?.val);
  const star = (v: AnyNode | undefined) => v?.ColumnRef?.fields?.length === 1 && v.ColumnRef.fields[0].A_Star;
  if (targets.length === 1 && star(targets[0]) && select.fromClause?.length === 1 && series.size === 1) return [[...series.values()][0]!.oid];
  if (targets.some((v) => !v || v.A_Star || v.ColumnRef?.fields?.some((f: AnyNode) => f.A_Star))) return hints;
  return targets.map((v, i) => {
    if (hints[i] !== undefined || !v?.ColumnRef || star(v)) return hints[i];
    const names = (v.ColumnRef.fields as AnyNode[]).map(str);
    const s = names.length === 2 ? series.get(names[0]!) : [...series.values()].find((x) => x.column === names[0]);
    return s && s.column === names[names.length - 1] ? s.oid : hints[i];
  });
}

/** `SELECT <value> AS <name>, … FROM <from>`: a subquery that names the columns as PostgreSQL would where SQLite names them otherwise. */
function renamingSelect(targets: [string, AnyNode][], from: AnyNode): AnyNode {
  return {
    SelectStmt: {
      targetList: targets.map(([name, val]) => ({ ResTarget: { name, val } })),
      fromClause: [from],
      limitOption: 'LIMIT_OPTION_DEFAULT',
      op: 'SETOP_NONE',
    },
  };
}

/** The engine's table function called with generate_series's arguments, for a FROM list. */
function seriesTable(args: AnyNode[], alias?: string): AnyNode {
  if (args.length < 2 || args.length > 3) throw unsupported(`generate_series() with ${args.length} arguments`);
  // always three arguments: the table function cannot tell a step left out from a NULL one
  const call = fn(SERIES_FUNCTION, ...args, ...(args.length === 2 ? [iconst(1)] : []));
  return { RangeFunction: { functions: [{ List: { items: [call, {}] } }], ...(alias ? { alias: { aliasname: alias } } : {}) } };
}

/** A function name that is PostgreSQL's generate_series (bare or pg_catalog.). */
const isSeries = (names: AnyNode[] | undefined): boolean =>
  Boolean(names?.length) && lastName(names!) === 'generate_series' && (names!.length === 1 || str(names![0]) === 'pg_catalog');

/**
 * generate_series(…) as a whole result column (`SELECT generate_series(1, 3)
 * AS x`, `SELECT t.a, generate_series(1, t.n) FROM t`): a set-returning
 * function in PostgreSQL's select list gives one row per value for each row,
 * which is the series joined after the FROM list (an SQLite table function
 * takes the row's columns as arguments there). One such column, and none of
 * grouping, aggregates, DISTINCT, windows or set operations, whose order of
 * evaluation a join would change.
 */
function seriesInTargets(n: AnyNode): void {
  const targets: AnyNode[] = n.targetList ?? [];
  const at = targets.flatMap((t, i) => (isSeries(t.ResTarget?.val?.FuncCall?.funcname) ? [i] : []));
  if (!at.length) return;
  const others = targets.filter((_, i) => i !== at[0]).map((t) => t.ResTarget?.val as AnyNode | undefined);
  if (
    at.length > 1 || n.groupClause?.length || n.havingClause || n.distinctClause || n.windowClause?.length || (n.op && n.op !== 'SETOP_NONE') ||
    others.some((v) => v && (v.FuncCall?.over || hasAggregate(v)))
  ) {
    throw unsupported('generate_series() in the select list beside grouping, aggregates, DISTINCT, windows, set operations or another generate_series()');
  }
  const r = targets[at[0]!]!.ResTarget;
  const alias = 'cutover_series';
  n.fromClause = [...(n.fromClause ?? []), seriesTable(r.val.FuncCall.args ?? [], alias)];
  r.val = columnRef(alias, 'value');
  r.name ??= 'generate_series';
}

/** READ ONLY (true) or READ WRITE (false) among a BEGIN's or SET TRANSACTION's options; undefined when neither. */
function readOnlyOption(options: AnyNode[] | undefined): boolean | undefined {
  let out: boolean | undefined;
  for (const o of options ?? []) {
    const d = o.DefElem;
    if (d?.defname === 'transaction_read_only') out = Boolean(d.arg?.A_Const?.ival?.ival);
  }
  return out;
}

function variableSet(n: AnyNode): Statement {
  if (n.kind === 'VAR_SET_MULTI' && (n.name === 'TRANSACTION' || n.name === 'SESSION CHARACTERISTICS')) {
    const readOnly = readOnlyOption(n.args);
    // SET TRANSACTION ISOLATION LEVEL …: SQLite transactions are serializable already
    if (readOnly === undefined) return { kind: 'noop', tag: 'SET' };
    return { kind: 'set', name: n.name === 'TRANSACTION' ? 'transaction_read_only' : 'default_transaction_read_only', value: readOnly ? 'on' : 'off', tag: 'SET' };
  }
  switch (n.kind) {
    case 'VAR_SET_VALUE':
      return { kind: 'set', name: String(n.name).toLowerCase(), value: (n.args ?? []).map(constText).join(', '), tag: 'SET', ...(n.is_local ? { local: true } : {}) };
    case 'VAR_SET_DEFAULT':
    case 'VAR_RESET':
      return { kind: 'set', name: String(n.name).toLowerCase(), value: null, tag: n.kind === 'VAR_RESET' ? 'RESET' : 'SET', ...(n.is_local ? { local: true } : {}) };
    case 'VAR_RESET_ALL':
      return { kind: 'reset_all', tag: 'RESET' };
    default:
      // SET TRANSACTION ISOLATION LEVEL …, SET SESSION CHARACTERISTICS: SQLite transactions are serializable already
      return { kind: 'noop', tag: 'SET' };
  }
}

const TAGS: Record<string, string> = {
  SelectStmt: 'SELECT', InsertStmt: 'INSERT', UpdateStmt: 'UPDATE', DeleteStmt: 'DELETE', CreateStmt: 'CREATE TABLE',
  IndexStmt: 'CREATE INDEX', ViewStmt: 'CREATE VIEW', AlterTableStmt: 'ALTER TABLE', RenameStmt: 'ALTER TABLE',
};

/** Whether a statement reads a subquery or CTE in FROM, whose columns may take a table column's name. */
function hasDerivedTables(v: unknown): boolean {
  if (!v || typeof v !== 'object') return false;
  if (Array.isArray(v)) return v.some(hasDerivedTables);
  const o = v as AnyNode;
  if (o.RangeSubselect || o.CommonTableExpr || o.RangeFunction) return true;
  return Object.values(o).some(hasDerivedTables);
}

function sqlStatement(type: string, stmt: AnyNode): SqlStatement {
  const n = stmt[type] as AnyNode;
  const ctx = new Ctx();
  ctx.derived = hasDerivedTables(stmt);
  // the file's schema must stay readable without the proxy's functions (other processes, the capture drainer)
  ctx.ddl = !['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt'].includes(type);
  let tag = TAGS[type] ?? type;
  let hints: (number | undefined)[] = [];
  let names: string[] = [];
  let columnHints: (ColumnHint | undefined)[] = [];
  let paramTargets: (number | undefined)[] = [];
  let grouping: GroupingCheck[] = [];
  if (type === 'SelectStmt') {
    if (n.intoClause) throw unsupported('SELECT INTO');
    // read off PostgreSQL's tree, before the walk rewrites it for SQLite
    grouping = groupingChecks(n);
    let first = n;
    while (first.op && first.op !== 'SETOP_NONE' && first.larg) first = first.larg;
    hints = seriesHints(first, targetHints(first.targetList));
    names = targetNames(first.targetList);
    nameTargets(first.targetList, names);
    columnHints = targetColumnHints(first.targetList);
    paramTargets = targetParams(first.targetList);
  } else if (n.returningList) {
    hints = targetHints(n.returningList);
    names = targetNames(n.returningList);
    paramTargets = targetParams(n.returningList);
  }
  if (type === 'DropStmt') tag = dropTag(n);
  if (type === 'UpdateStmt' && n.fromClause?.length && n.returningList?.some((r: AnyNode) => r.ResTarget?.val?.ColumnRef?.fields?.length === 1 && r.ResTarget.val.ColumnRef.fields[0].A_Star)) {
    // PostgreSQL's * there is every column of the target and of the FROM list; SQLite returns only the target's
    throw unsupported("RETURNING * in UPDATE … FROM", "name the columns (the updated table's: SQLite's RETURNING cannot read the FROM list)");
  }
  if (type === 'InsertStmt') dropDefaultValues(n);
  if (type === 'CreateStmt') createTable(n);
  if (type === 'IndexStmt') createIndex(n);
  if (type === 'AlterTableStmt') alterTable(n);
  if (type === 'RenameStmt' && !['OBJECT_TABLE', 'OBJECT_COLUMN'].includes(n.renameType)) throw unsupported('this ALTER … RENAME');
  if (type === 'ViewStmt' && (n.options?.length || n.withCheckOption !== 'NO_CHECK_OPTION' || n.replace)) throw unsupported('CREATE OR REPLACE VIEW / view options');
  if (n.relation && type !== 'CreateStmt' && type !== 'IndexStmt') rangeVar(n.relation);
  hoistWritten(type, n, ctx);
  const conflict = type === 'InsertStmt' ? conflictRows(n) : null;
  collectParamColumns(type, n, ctx);
  const write = collectWrites(type, n);
  const out = ctx.walk(stmt) as AnyNode;
  ctx.numberLiterals();
  return {
    kind: 'sql',
    sql: deparseForSqlite(out),
    tag,
    params: ctx.maxParam,
    literals: ctx.literals.map((l) => ({ text: l.text, compare: l.compare, ...(l.oid ? { oid: l.oid } : {}), ...(l.typed ? { typed: l.typed } : {}), ...(l.bound ? { bound: l.bound } : {}), ...(l.param ? { param: l.param } : {}) })),
    ...(ctx.boundParams.size ? { boundParams: [...ctx.boundParams].filter((p) => !ctx.keptParams.has(p)) } : {}),
    paramTypes: ctx.paramTypes,
    paramColumns: ctx.paramColumns,
    tables: ctx.tables,
    hints,
    columnHints,
    paramTargets,
    names,
    locking: ctx.locking,
    countsChanges: type === 'InsertStmt' || type === 'UpdateStmt' || type === 'DeleteStmt',
    grouping,
    columnTypes: ctx.typeRefs.map((t) => t.col),
    ...(write ? { write: write() } : {}),
    ...(conflict ? { conflict: conflict() } : {}),
  };
}

/** The rows of a multi-row INSERT … ON CONFLICT (cols) DO UPDATE, read once the constants are numbered parameters. */
function conflictRows(n: AnyNode): (() => ConflictRows) | null {
  const oc = n.onConflictClause;
  const rows: AnyNode[][] | undefined = n.selectStmt?.SelectStmt?.valuesLists?.map((r: AnyNode) => [...(r.List?.items ?? [])]);
  const target: string[] = (oc?.infer?.indexElems ?? []).map((e: AnyNode) => e.IndexElem?.name).filter((x: unknown): x is string => typeof x === 'string');
  if (oc?.action !== 'ONCONFLICT_UPDATE' || !rows || rows.length < 2 || !target.length) return null;
  const cell = (v: AnyNode): ConflictRows['rows'][number][number] => {
    if (v.ParamRef) return { param: v.ParamRef.number };
    const c = v.A_Const;
    if (!c) return 'unknown';
    if (c.isnull) return 'null';
    if (c.ival) return { value: String(c.ival.ival ?? 0) };
    if (c.fval) return { value: String(c.fval.fval) };
    return 'unknown';
  };
  return () => ({ target, columns: insertColumns(n), rows: rows.map((items) => items.map(cell)) });
}

/** COPY: the options checked, the SELECT of a COPY … TO translated as any SELECT is. */
function copyRun(n: AnyNode): CopyRun {
  if (n.relation) rangeVar(n.relation);
  const { query, ...c } = copyStatement(n);
  if (c.from) return { ...c, select: null };
  if (query) return { ...c, select: sqlStatement('SelectStmt', query) };
  // COPY t TO: its columns (or all), in the table's order
  const targetList = c.columns
    ? c.columns.map((col) => ({ ResTarget: { val: { ColumnRef: { fields: [{ String: { sval: col } }] } } } }))
    : [{ ResTarget: { val: { ColumnRef: { fields: [{ A_Star: {} }] } } } }];
  const relation = { ...n.relation };
  const select = { SelectStmt: { targetList, fromClause: [{ RangeVar: relation }], limitOption: 'LIMIT_OPTION_DEFAULT', op: 'SETOP_NONE' } };
  return { ...c, select: sqlStatement('SelectStmt', select) };
}

const VACUUM_OPTIONS = new Set(['verbose', 'analyze', 'full', 'freeze', 'skip_locked', 'disable_page_skipping', 'index_cleanup', 'process_toast', 'truncate', 'parallel']);

function maintenance(n: AnyNode): Statement {
  const vacuum = Boolean(n.is_vacuumcmd);
  let analyze = !vacuum;
  for (const o of (n.options ?? []) as AnyNode[]) {
    const name = String(o.DefElem?.defname);
    if (!VACUUM_OPTIONS.has(name) || (!vacuum && !['verbose', 'skip_locked'].includes(name))) {
      throw new PgError('42601', `unrecognized ${vacuum ? 'VACUUM' : 'ANALYZE'} option "${name}"`);
    }
    if (name === 'analyze') analyze = true;
  }
  const tables = ((n.rels ?? []) as AnyNode[]).map((r) => {
    const rel = r.VacuumRelation?.relation as AnyNode;
    rangeVar(rel);
    return String(rel.relname);
  });
  return { kind: 'maintenance', vacuum, analyze, tables, tag: vacuum ? 'VACUUM' : 'ANALYZE' };
}

/** ALTER TABLE t ADD [CONSTRAINT c] PRIMARY KEY / UNIQUE (cols): null for any other ALTER TABLE. */
function addKey(n: AnyNode): AddKey | null {
  const cmds: AnyNode[] = n.cmds ?? [];
  const cmd = cmds[0]?.AlterTableCmd;
  const c = cmd?.def?.Constraint;
  if (cmd?.subtype !== 'AT_AddConstraint' || !c) return null;
  if (cmds.length !== 1) throw unsupported('several ALTER TABLE actions in one statement');
  if (c.contype !== 'CONSTR_PRIMARY' && c.contype !== 'CONSTR_UNIQUE') {
    const what: Record<string, string> = { CONSTR_FOREIGN: 'FOREIGN KEY', CONSTR_CHECK: 'CHECK', CONSTR_EXCLUSION: 'EXCLUDE' };
    throw unsupported(`ALTER TABLE … ADD ${what[c.contype] ?? String(c.contype).replace('CONSTR_', '')} (SQLite cannot add a constraint to a table; declare it in CREATE TABLE)`);
  }
  if (c.indexname) throw unsupported('ALTER TABLE … ADD … USING INDEX');
  if (c.including?.length || c.options?.length || c.indexspace || c.nulls_not_distinct || c.deferrable) throw unsupported('index options of a key constraint');
  rangeVar(n.relation);
  return { kind: 'add_key', table: String(n.relation.relname), columns: (c.keys as AnyNode[]).map(str), primary: c.contype === 'CONSTR_PRIMARY', name: c.conname ?? null, tag: 'ALTER TABLE' };
}

/** PostgreSQL's table storage parameters (WITH (…)): accepted, and meaningless to SQLite. */
const STORAGE_PARAMETERS = new Set([
  'fillfactor', 'toast_tuple_target', 'parallel_workers', 'autovacuum_enabled', 'vacuum_index_cleanup', 'vacuum_truncate', 'user_catalog_table',
  'autovacuum_vacuum_threshold', 'autovacuum_vacuum_insert_threshold', 'autovacuum_analyze_threshold', 'autovacuum_vacuum_cost_delay',
  'autovacuum_vacuum_cost_limit', 'autovacuum_freeze_min_age', 'autovacuum_freeze_max_age', 'autovacuum_freeze_table_age',
  'autovacuum_multixact_freeze_min_age', 'autovacuum_multixact_freeze_max_age', 'autovacuum_multixact_freeze_table_age',
  'log_autovacuum_min_duration', 'autovacuum_vacuum_scale_factor', 'autovacuum_vacuum_insert_scale_factor', 'autovacuum_analyze_scale_factor',
]);

function storageParameters(options: AnyNode[]): void {
  for (const o of options) {
    const d = o.DefElem as AnyNode;
    const name = String(d.defname);
    if (name === 'oids') {
      const v = d.arg?.String?.sval ?? d.arg?.TypeName?.names?.at(-1)?.String?.sval ?? (d.arg?.Integer ? String(d.arg.Integer.ival ?? 0) : 'true');
      if (!['false', 'off', '0'].includes(String(v).toLowerCase())) throw new PgError('0A000', 'tables declared WITH OIDS are not supported');
      continue;
    }
    if (d.defnamespace !== 'toast' && !STORAGE_PARAMETERS.has(name)) throw new PgError('22023', `unrecognized parameter "${name}"`);
    if (name === 'fillfactor') {
      const v = d.arg?.Integer ? d.arg.Integer.ival ?? 0 : Number(d.arg?.String?.sval ?? d.arg?.Float?.fval);
      if (!Number.isInteger(v)) throw new PgError('22023', `invalid value for integer option "fillfactor": ${d.arg?.String?.sval ?? d.arg?.Float?.fval}`);
      if (v < 10 || v > 100) throw new PgError('22023', `value ${v} out of bounds for option "fillfactor"`, 'Valid values are between "10" and "100".');
    }
  }
}

function dropTag(n: AnyNode): string {
  const what: Record<string, string> = { OBJECT_TABLE: 'TABLE', OBJECT_INDEX: 'INDEX', OBJECT_VIEW: 'VIEW' };
  const w = what[n.removeType];
  if (!w) throw unsupported(`DROP ${String(n.removeType).replace('OBJECT_', '')}`);
  if (n.behavior === 'DROP_CASCADE') throw unsupported(`DROP ${w} … CASCADE`);
  if ((n.objects ?? []).length !== 1) throw unsupported(`DROP ${w} of several objects in one statement`);
  if (n.concurrent) delete n.concurrent;
  return `DROP ${w}`;
}

// ---------- DDL ----------

/** PostgreSQL column type → SQLite declared type (kept close to the PostgreSQL name: it drives result OIDs). */
const DECLARED: Record<string, string> = {
  int2: 'SMALLINT', smallint: 'SMALLINT', int4: 'INTEGER', int: 'INTEGER', integer: 'INTEGER', int8: 'BIGINT', bigint: 'BIGINT',
  serial: 'INTEGER', serial4: 'INTEGER', bigserial: 'INTEGER', serial8: 'INTEGER', smallserial: 'INTEGER', serial2: 'INTEGER',
  float4: 'REAL', real: 'REAL', float8: 'DOUBLE PRECISION', numeric: 'NUMERIC', decimal: 'NUMERIC',
  text: 'TEXT', varchar: 'VARCHAR', bpchar: 'CHAR', char: 'CHAR', citext: 'TEXT', bytea: 'BLOB', bool: 'BOOLEAN', boolean: 'BOOLEAN',
  date: 'DATE', timestamp: 'TIMESTAMP', timestamptz: 'TIMESTAMPTZ', time: 'TIME', uuid: 'UUID', json: 'JSON', jsonb: 'JSONB',
};
const SERIALS = new Set(['serial', 'serial4', 'bigserial', 'serial8', 'smallserial', 'serial2']);

function columnType(typeName: AnyNode): { isSerial: boolean } {
  if (typeName.arrayBounds) throw unsupported('array types');
  const name = lastName(typeName.names);
  const declared = DECLARED[name];
  if (!declared) throw unsupported(`column type ${name}`);
  const mods = (typeName.typmods ?? []).map((m: AnyNode) => m.A_Const?.ival?.ival ?? 0);
  typeName[SQLITE_TYPE] = mods.length && ['NUMERIC', 'VARCHAR', 'CHAR'].includes(declared) ? `${declared}(${mods.join(', ')})` : declared;
  return { isSerial: SERIALS.has(name) };
}

/**
 * SQLite has no DEFAULT among VALUES; a column left out gets its default, so
 * a column that is DEFAULT in every row is left out (every column: DEFAULT
 * VALUES). DEFAULT in some rows only, or without a column list, is refused.
 */
function dropDefaultValues(n: AnyNode): void {
  const rows: AnyNode[][] | undefined = n.selectStmt?.SelectStmt?.valuesLists?.map((r: AnyNode) => r.List?.items ?? []);
  if (!rows?.length || !rows.some((r) => r.some((v) => v.SetToDefault))) return;
  if (!n.cols?.length) throw unsupported('DEFAULT among VALUES without a column list (name the columns)');
  const allDefault = (i: number) => rows.every((r) => r[i]?.SetToDefault);
  if (rows.some((r) => r.some((v, i) => v.SetToDefault && !allDefault(i)))) throw unsupported('DEFAULT in some VALUES rows but not others (insert those rows apart)');
  const keep = (n.cols as AnyNode[]).map((_c, i) => !allDefault(i));
  if (!keep.some(Boolean)) {
    if (rows.length > 1) throw unsupported('several rows of DEFAULT only');
    delete n.cols;
    delete n.selectStmt; // INSERT … DEFAULT VALUES
    return;
  }
  n.cols = (n.cols as AnyNode[]).filter((_c, i) => keep[i]);
  n.selectStmt.SelectStmt.valuesLists.forEach((r: AnyNode) => {
    r.List.items = r.List.items.filter((_v: AnyNode, i: number) => keep[i]);
  });
}

function createTable(n: AnyNode): void {
  if (n.inhRelations || n.partspec || n.ofTypename) throw unsupported('CREATE TABLE with INHERITS / PARTITION BY / OF');
  if (n.oncommit && n.oncommit !== 'ONCOMMIT_NOOP') throw unsupported('CREATE TABLE … ON COMMIT');
  if (n.tablespacename) throw unsupported('CREATE TABLE … TABLESPACE');
  if (n.accessMethod) throw unsupported('CREATE TABLE … USING');
  storageParameters(n.options ?? []);
  delete n.options;
  if (n.relation.schemaname === 'public') delete n.relation.schemaname;
  const tablePk = new Set<string>();
  for (const e of n.tableElts ?? []) {
    const c = e.Constraint;
    if (c?.contype === 'CONSTR_PRIMARY') for (const k of c.keys ?? []) tablePk.add(str(k));
    if (c && ['CONSTR_EXCLUSION'].includes(c.contype)) throw unsupported('EXCLUDE constraints');
  }
  for (const e of n.tableElts ?? []) {
    const col = e.ColumnDef;
    if (!col) continue;
    const { isSerial } = columnType(col.typeName);
    let pk = tablePk.has(col.colname) && tablePk.size === 1;
    const constraints: AnyNode[] = col.constraints ?? [];
    let kept: AnyNode[] = [];
    let identity = false;
    for (const c of constraints) {
      const ct = c.Constraint?.contype;
      if (ct === 'CONSTR_PRIMARY') pk = true;
      if (ct === 'CONSTR_IDENTITY') identity = true;
      else kept.push(c);
    }
    if ((isSerial || identity) && !pk) throw unsupported(`${isSerial ? 'serial' : 'identity'} column "${col.colname}" that is not the single-column primary key (SQLite has no sequences)`);
    // INTEGER PRIMARY KEY is SQLite's rowid; AUTOINCREMENT makes it hand out ids as a sequence does,
    // never one used before (the largest id deleted, or every row, is not handed out again)
    if (isSerial || identity) {
      col.typeName[SQLITE_TYPE] = 'INTEGER PRIMARY KEY AUTOINCREMENT';
      kept = kept.filter((c) => c.Constraint?.contype !== 'CONSTR_PRIMARY');
      n.tableElts = (n.tableElts as AnyNode[]).filter((e) => e.Constraint?.contype !== 'CONSTR_PRIMARY');
    }
    col.constraints = kept.length ? kept : undefined;
    if (!col.constraints) delete col.constraints;
  }
}

function createIndex(n: AnyNode): void {
  if (n.accessMethod && n.accessMethod !== 'btree') throw unsupported(`index method ${n.accessMethod}`);
  if (n.indexIncludingParams?.length) throw unsupported('INCLUDE columns in an index');
  if (n.relation?.schemaname === 'public') delete n.relation.schemaname;
  delete n.accessMethod;
  delete n.concurrent;
}

function alterTable(n: AnyNode): void {
  for (const c of n.cmds ?? []) {
    const sub = c.AlterTableCmd?.subtype;
    if (sub === 'AT_AddColumn') columnType(c.AlterTableCmd.def.ColumnDef.typeName);
    else if (sub !== 'AT_DropColumn') throw unsupported(`ALTER TABLE ${String(sub).replace('AT_', '')}`);
    if (c.AlterTableCmd.behavior === 'DROP_CASCADE') throw unsupported('DROP COLUMN … CASCADE');
    // RESTRICT is PostgreSQL's default and SQLite's only behaviour, and not in its grammar
    if (c.AlterTableCmd.behavior === 'DROP_RESTRICT') delete c.AlterTableCmd.behavior;
  }
  if ((n.cmds ?? []).length !== 1) throw unsupported('several ALTER TABLE actions in one statement');
}

// ---------- parameter typing from context ----------

function colRef(n: AnyNode | undefined): { qualifier?: string; column: string } | null {
  const f: AnyNode[] | undefined = n?.ColumnRef?.fields;
  if (!f || f.some((x) => !x.String)) return null;
  if (f.length === 1) return { column: str(f[0]) };
  if (f.length === 2) return { qualifier: str(f[0]), column: str(f[1]) };
  return null;
}

/** An INSERT's column list; null without one (the values fill the table's columns in order). */
const insertColumns = (n: AnyNode): string[] | null => (n.cols?.length ? n.cols.map((c: AnyNode) => c.ResTarget?.name) : null);

/** String constants of INSERT … VALUES and UPDATE … SET: see SqlStatement.literals. */
function hoistWritten(type: string, n: AnyNode, ctx: Ctx): void {
  if (type === 'InsertStmt') {
    // without a column list, the values fill the table's columns in order
    const width: number = n.cols?.length || Infinity;
    for (const row of n.selectStmt?.SelectStmt?.valuesLists ?? []) {
      const items: AnyNode[] = row.List?.items ?? [];
      items.forEach((v, i) => {
        if (i < width) items[i] = ctx.hoist(v, false) ?? v;
      });
    }
  }
  if (type === 'UpdateStmt') {
    for (const t of n.targetList ?? []) if (t.ResTarget?.name && !t.ResTarget.indirection) t.ResTarget.val = ctx.hoist(t.ResTarget.val, false) ?? t.ResTarget.val;
  }
}

function collectParamColumns(type: string, n: AnyNode, ctx: Ctx): void {
  const rel = n.relation;
  if (rel?.relname && ['InsertStmt', 'UpdateStmt', 'DeleteStmt'].includes(type)) ctx.tables.push({ name: rel.relname, alias: rel.alias?.aliasname });
  if (type === 'InsertStmt') {
    const cols = insertColumns(n);
    for (const row of n.selectStmt?.SelectStmt?.valuesLists ?? []) {
      (row.List?.items ?? []).forEach((v: AnyNode, i: number) => {
        const p = v.ParamRef?.number;
        const column = cols ? cols[i] : i;
        if (p && column !== undefined) ctx.paramColumns.push({ param: p, qualifier: rel.relname, column });
      });
    }
  }
  if (type === 'UpdateStmt') {
    for (const t of n.targetList ?? []) {
      const p = t.ResTarget?.val?.ParamRef?.number;
      if (p && t.ResTarget.name) ctx.paramColumns.push({ param: p, qualifier: rel.relname, column: t.ResTarget.name });
    }
  }
}

/**
 * Where an INSERT or UPDATE writes which value (see WriteTargets). Runs after
 * the string constants were made parameters; returns a function that reads
 * the parameters' final numbers once the walk has given them.
 */
function collectWrites(type: string, n: AnyNode): (() => WriteTargets) | null {
  const table: string | undefined = n.relation?.relname;
  if ((type !== 'InsertStmt' && type !== 'UpdateStmt') || !table) return null;
  const w = new Writes(table);
  if (type === 'InsertStmt') {
    const cols = insertColumns(n);
    const sel = n.selectStmt?.SelectStmt;
    if (sel?.valuesLists) {
      for (const row of sel.valuesLists) {
        const items: AnyNode[] = row.List?.items ?? [];
        for (let i = 0; i < items.length; i++) {
          const c = cols ? cols[i] : i;
          if (c !== undefined) items[i] = w.value(items[i]!, c, false);
        }
      }
    } else if (sel && (!sel.op || sel.op === 'SETOP_NONE') && !targetHasStar(sel.targetList)) {
      const targets: AnyNode[] = sel.targetList ?? [];
      for (let i = 0; i < targets.length; i++) {
        const c = cols ? cols[i] : i;
        const r = targets[i]!.ResTarget;
        // checked per row the SELECT produces (none: no error), not up front
        if (c !== undefined && r?.val) r.val = w.value(r.val, c, true);
      }
    }
    w.assign(n.onConflictClause?.targetList, true);
  } else w.assign(n.targetList, false);
  return w.columns.length ? () => w.targets() : null;
}

class Writes {
  columns: (string | number)[] = [];
  params: { ref: AnyNode; column: number }[] = [];
  consts: { value: SqlValue; column: number }[] = [];

  constructor(readonly table: string) {}

  column(c: string | number): number {
    const i = this.columns.indexOf(c);
    return i >= 0 ? i : this.columns.push(c) - 1;
  }

  /** The value written into column c: noted for the session's checks, or wrapped in cutover_put. */
  value(v: AnyNode, c: string | number, rowwise: boolean): AnyNode {
    if (v.SetToDefault) return v;
    const k = this.column(c);
    if (v.A_Const?.isnull) {
      // checked too: NULL into a primary key column is 23502 (SQLite would make it a new rowid)
      if (rowwise) return fn('cutover_put', v, iconst(k));
      this.consts.push({ value: null, column: k });
      return v;
    }
    if (!rowwise && v.ParamRef) {
      this.params.push({ ref: v.ParamRef, column: k });
      return v;
    }
    const con = v.A_Const;
    const int = numberConst(v)?.int;
    if (!rowwise && con && ((int !== undefined && fitsInt(int, 64)) || con.boolval)) {
      this.consts.push({ value: int ?? (con.boolval.boolval ? 1n : 0n), column: k });
      return v;
    }
    // decimals too: an integer column rounds them, which only SQL can do to a constant
    return fn('cutover_put', v, iconst(k));
  }

  /** UPDATE … SET, ON CONFLICT … DO UPDATE SET. */
  assign(targets: AnyNode[] | undefined, upsert: boolean): void {
    for (const t of targets ?? []) {
      const r = t.ResTarget;
      if (!r?.name || r.indirection || !r.val) continue;
      // SET c = excluded.c: the value was checked as it was inserted
      const ref = upsert ? colRef(r.val) : null;
      if (ref?.qualifier === 'excluded' && ref.column === r.name) continue;
      r.val = this.value(r.val, r.name, false);
    }
  }

  targets(): WriteTargets {
    return { table: this.table, columns: this.columns, params: this.params.map((p) => ({ param: p.ref.number as number, column: p.column })), consts: this.consts };
  }
}

const targetHasStar = (targets: AnyNode[] | undefined): boolean =>
  (targets ?? []).some((t) => t.ResTarget?.val?.ColumnRef?.fields?.some((f: AnyNode) => f.A_Star));

// ---------- expressions ----------

// 'is' and 'is not' come only from the IS [NOT] DISTINCT FROM rewrite: PostgreSQL's parser never names an operator so
const OPERATORS = new Set(['is', 'is not', '+', '-', '*', '/', '%', '||', '=', '<>', '!=', '<', '>', '<=', '>=']);

/** Functions SQLite has with PostgreSQL's meaning, under the same name. */
const SAME = new Set([
  'lower', 'upper', 'length', 'abs', 'round', 'replace', 'ltrim', 'rtrim', 'count', 'sum', 'avg', 'min', 'max',
  'coalesce', 'nullif', 'concat', 'concat_ws', 'octet_length', 'sign', 'ceil', 'ceiling', 'floor', 'sqrt', 'power',
  'exp', 'ln', 'mod', 'row_number', 'rank', 'dense_rank', 'ntile', 'lag', 'lead', 'first_value', 'last_value',
  'nth_value', 'percent_rank', 'cume_dist',
  // answered per session by catalog.ts
  'version', 'current_database', 'current_schema', 'current_setting', 'set_config', 'pg_backend_pid',
]);
/** PostgreSQL name → SQLite name, same arguments. */
const RENAMED: Record<string, string> = {
  char_length: 'length', character_length: 'length', substring: 'substr', substr: 'substr', strpos: 'instr',
  btrim: 'trim', string_agg: 'group_concat',
};
const NOW = new Set(['now', 'transaction_timestamp', 'statement_timestamp', 'clock_timestamp']);
const TRANSACTION_NOW = new Set(['now', 'transaction_timestamp']);

/** A call to an SQLite function, made by the translator (passes the function check as it is). */
const fn = (name: string, ...args: AnyNode[]): AnyNode => ({ FuncCall: { funcname: [{ String: { sval: name } }], args, funcformat: 'COERCE_EXPLICIT_CALL', [NATIVE]: true } });
const NATIVE = '__native';
const sconst = (s: string): AnyNode => ({ A_Const: { sval: { sval: s } } });
const columnRef = (...names: string[]): AnyNode => ({ ColumnRef: { fields: names.map((sval) => ({ String: { sval } })) } });
const iconst = (i: number): AnyNode => ({ A_Const: { ival: i ? { ival: i } : {} } });
/** A decimal constant made by the translator: SQLite's own spelling of a value (9e999 is Infinity), not one the client wrote (inexactDecimal). */
const fconst = (text: string): AnyNode => ({ A_Const: { fval: { fval: text }, [NATIVE]: true } });
/**
 * now() as stored text: UTC, millisecond precision, in the one spelling the
 * proxy stores timestamps in (types.ts, microsText: no trailing zeros in the
 * fraction, so '10:00:00.5' and never '10:00:00.500', which sorts after it).
 * SQLite functions only: it may be a column's DEFAULT in the file's schema.
 */
const nowExpr = (): AnyNode => {
  const op = (name: string, lexpr: AnyNode, rexpr: AnyNode): AnyNode => ({ A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: name } }], lexpr, rexpr } });
  const fraction = () => fn('rtrim', fn('substr', fn('strftime', sconst('%f'), sconst('now')), iconst(4)), sconst('0'));
  const dotted = { CaseExpr: { args: [{ CaseWhen: { expr: op('=', fraction(), sconst('')), result: sconst('') } }], defresult: op('||', sconst('.'), fraction()) } };
  return op('||', fn('strftime', sconst('%Y-%m-%d %H:%M:%S'), sconst('now')), dotted);
};
const BACKSLASH = (): AnyNode => fn('char', iconst(92));

/** SQLite type name for CAST, or null when the value is kept as it is (text forms of dates, uuids, json). */
const CAST_TO: Record<number, string | null> = {
  [OID.int2]: 'INTEGER', [OID.int4]: 'INTEGER', [OID.int8]: 'INTEGER', [OID.float4]: 'REAL', [OID.float8]: 'REAL',
  [OID.numeric]: 'NUMERIC', [OID.text]: 'TEXT', [OID.varchar]: 'TEXT', [OID.bpchar]: 'TEXT', [OID.name]: 'TEXT',
  [OID.bytea]: 'BLOB', [OID.timestamp]: null, [OID.timestamptz]: null, [OID.time]: null, [OID.uuid]: null,
  [OID.json]: null, [OID.jsonb]: null,
};

const INT_BITS: Record<number, Bits> = { [OID.int2]: 16, [OID.int4]: 32, [OID.int8]: 64 };
const NUMERIC_CASTS = new Set<number>([OID.int2, OID.int4, OID.int8, OID.float4, OID.float8, OID.numeric]);

/** A comparison with its operands swapped. */
const FLIPPED: Record<string, string> = { '<': '>', '>': '<', '<=': '>=', '>=': '<=' };
/** The checking SQLite functions (checks.ts) for PostgreSQL's arithmetic operators. */
const ARITH: Record<string, string> = { '+': 'cutover_add', '-': 'cutover_sub', '*': 'cutover_mul', '/': 'cutover_div', '%': 'cutover_mod' };
const EXACT: Record<string, (a: bigint, b: bigint) => bigint> = { '+': (a, b) => a + b, '-': (a, b) => a - b, '*': (a, b) => a * b };

/** A numeric constant: its value, and whether it is written as an integer. */
function numberConst(n: AnyNode | undefined): { value: number; int?: bigint } | undefined {
  const c = n?.A_Const;
  if (c?.ival) return { value: c.ival.ival ?? 0, int: BigInt(c.ival.ival ?? 0) };
  if (c?.fval) {
    const t: string = c.fval.fval;
    return /^[+-]?\d+$/.test(t) ? { value: Number(t), int: BigInt(t) } : { value: Number(t) };
  }
  return undefined;
}

/** Two constants' floating-point result is what PostgreSQL's float8 operators would give without an overflow or underflow error. */
function floatFits(op: string, a: number, b: number): boolean {
  if (op === '%') return b !== 0;
  if (op === '+' || op === '-') return Number.isFinite(op === '+' ? a + b : a - b);
  const r = op === '*' ? a * b : a / b;
  return Number.isFinite(r) && (r !== 0 || a === 0 || b === 0);
}

/**
 * An operand as SQLite's arithmetic sees it: `x * 1` makes SQLite turn text
 * into a number by its own rules, so the checking functions only ever get
 * numbers. Left as it is where the value is a number already.
 */
function asNumber(x: AnyNode): AnyNode {
  const e = x.A_Expr;
  if (numberConst(x) || x.A_Const?.isnull || (e?.kind === 'AEXPR_OP' && ARITH[lastName(e.name)])) return x;
  const cast = x.TypeCast?.typeName;
  if (cast && NUMERIC_CASTS.has(typeNameOid(cast) ?? 0)) return x;
  return { A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: '*' } }], lexpr: x, rexpr: iconst(1), [NATIVE]: true } };
}

/** A decimal constant → integer as numeric → integer is: rounded half away from zero, then the range. */
function decimalToInt(text: string, bits: Bits): bigint {
  const parts = decimalParts(text);
  if (!parts) throw new PgError('22P02', `invalid input syntax for type numeric: "${text}"`);
  const { digits, point } = parts;
  if (point > 40) throw outOfRange(bits);
  const whole = point <= 0 ? 0n : BigInt(digits.slice(0, point).padEnd(point, '0'));
  const next = point < 0 ? '0' : digits[point] ?? '0';
  const v = whole + (next >= '5' ? 1n : 0n);
  return fitInt(parts.negative ? -v : v, bits);
}

/** A decimal constant as numeric_out prints it: no exponent, at the literal's scale (1.50e-3 is 0.00150). */
function plainDecimal(t: string): string {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(t.trim());
  const exp = Number(m?.[4] ?? 0);
  if (!m || Math.abs(exp) > 100_000) return t;
  const [int, frac] = [m[2] ?? '', m[3] ?? ''];
  const digits = int + frac;
  const point = int.length + exp;
  const scale = Math.max(0, frac.length - exp);
  const whole = (point <= 0 ? '0' : digits.slice(0, point).padEnd(point, '0')).replace(/^0+(?=\d)/, '');
  const fraction = (point < 0 ? '0'.repeat(-point) + digits : digits.slice(point)).padEnd(scale, '0').slice(0, scale);
  return (m[1] === '-' ? '-' : '') + whole + (scale ? '.' + fraction : '');
}

/** ±Infinity as SQLite spells it: a literal that overflows to its infinite REAL. */
const infinity = (negative: boolean): AnyNode => fconst(negative ? '-9e999' : '9e999');
const sqliteCast = (arg: AnyNode, to: string): AnyNode => ({ TypeCast: { arg, typeName: { names: [{ String: { sval: to } }], [SQLITE_TYPE]: to } } });
const typmods = (tn: AnyNode): number[] => (tn.typmods ?? []).map((m: AnyNode) => m.A_Const?.ival?.ival ?? 0);

const BOOL_WORDS: Record<string, boolean> = { t: true, true: true, y: true, yes: true, on: true, '1': true, f: false, false: false, n: false, no: false, off: false, '0': false };

function rangeVar(n: AnyNode): void {
  if (n.schemaname === 'public' || n.schemaname === 'main') delete n.schemaname;
  else if (n.schemaname && n.schemaname !== 'pg_catalog') throw unsupported(`schema "${n.schemaname}"`);
  if (n.catalogname) throw unsupported('database-qualified names');
  n.inh = true; // ONLY t: no inheritance in SQLite
}

/** Numbers of hoisted constants until the walk knows the client's highest $n (then renumbered after it). */
const HOISTED = 1_000_000;
const TYPE_PARAMS = 2_000_000;

/** Types whose text PostgreSQL writes otherwise than SQLite's CAST(… AS TEXT), as declared types (cutover_text). */
const TEXT_DECLARED: Record<number, string> = {
  [OID.bool]: 'BOOLEAN', [OID.timestamptz]: 'TIMESTAMPTZ', [OID.timestamp]: 'TIMESTAMP', [OID.float8]: 'DOUBLE PRECISION', [OID.float4]: 'FLOAT4',
};

const DATE_FIELDS = new Set(['date_trunc', 'date_part', 'extract']);
const TIME_CASTS: ReadonlySet<number> = new Set([OID.date, OID.timestamp, OID.timestamptz]);
/** Declared-type names of the values a date-time cast reads by their type. */
const TIME_DECLARED: Record<number, string> = { [OID.date]: 'DATE', [OID.timestamp]: 'TIMESTAMP', [OID.timestamptz]: 'TIMESTAMPTZ', [OID.text]: 'TEXT', [OID.varchar]: 'TEXT' };

class Ctx extends NodeRewriter {
  maxParam = 0;
  /** DDL: nothing of the proxy's own (functions) goes into the file's schema. */
  ddl = false;
  /** The statement reads a subquery or CTE in FROM (hasDerivedTables). */
  derived = false;
  literals: { ref: AnyNode; text: string; compare: boolean; oid?: number; typed?: ColumnHint; bound?: DecimalBound; param?: number }[] = [];
  /** Decimal constants SQLite cannot hold whose comparison is SQLite's own and still right (beside a float). */
  private approved = new WeakSet<object>();

  /** A decimal SQLite cannot hold (or parameter `param`'s value), compared with a column, as a parameter the session binds to the column's value on `side` of it. */
  private hoistBound(text: string, bound: DecimalBound, param?: number): AnyNode {
    const ref = { number: HOISTED + this.literals.length, location: -1 };
    this.literals.push({ ref, text, compare: true, bound, ...(param !== undefined ? { param } : {}) });
    return { ParamRef: ref };
  }

  /**
   * `col op d` with a decimal d SQLite cannot hold (keptWhole): PostgreSQL
   * compares it exactly, SQLite would compare the double nearest it, which a
   * numeric or integer column may hold (1.00000000000000000001 = 1 true).
   * Each operator becomes one against the column's nearest value on the right
   * side of d (decimalBound), bound by the session for the column's type; =
   * and <> a range that holds none of them. Beside a float, SQLite's
   * comparison is PostgreSQL's (the constant is a float8 there) and stays.
   * null: nothing of the kind (and the constant, if any, is refused as stored).
   */
  private exactCompare(op: string, l: AnyNode, r: AnyNode): AnyNode | null {
    if (this.ddl) return null;
    const written = op;
    let [col, text] = [l, inexactDecimal(r)];
    if (text === undefined) {
      [col, text] = [r, inexactDecimal(l)];
      op = FLIPPED[op] ?? op;
    }
    if (text === undefined) return this.paramCompare(written, l, r);
    const h = hintOf(col);
    if (h === OID.float8 || h === OID.float4) {
      this.approved.add((col === l ? r : l).A_Const);
      return null;
    }
    if (!colRef(col) || !boundable(text)) return null;
    return this.boundCompare(op, col, (bound) => this.hoistBound(text, bound));
  }

  /** Parameters `$n::numeric` whose value only bounds comparisons (paramCompare): the session reads them as given. */
  boundParams = new Set<number>();
  /** Parameters left in the statement as they are, by number. */
  keptParams = new Set<number>();

  /**
   * `col op $n::numeric`: compared as exactCompare compares a decimal
   * constant, once the session has the value: a value of more than 15
   * significant digits (which SQLite would compare as its nearest double) is
   * as exact as PostgreSQL's comparison, one SQLite holds is bound as it is.
   */
  private paramCompare(op: string, l: AnyNode, r: AnyNode): AnyNode | null {
    let [col, p] = [l, numericParam(r)];
    if (p === undefined) {
      [col, p] = [r, numericParam(l)];
      op = FLIPPED[op] ?? op;
    }
    if (p === undefined || !colRef(col)) return null;
    const param = p;
    return this.boundCompare(op, col, (bound) => this.hoistParamBound(param, bound));
  }

  /** `$param::numeric` as a parameter the session binds to the column's nearest value on `bound`'s side of the parameter's value (paramCompare). */
  private hoistParamBound(param: number, bound: DecimalBound): AnyNode {
    this.maxParam = Math.max(this.maxParam, param);
    this.paramTypes.set(param, OID.numeric);
    this.boundParams.add(param);
    return this.hoistBound('', bound, param);
  }

  /** `col op d` as comparisons with the column's nearest values on either side of d (decimalBound), each a parameter `at` makes. */
  private boundCompare(op: string, col: AnyNode, at: (bound: DecimalBound) => AnyNode): AnyNode {
    const cmp = (o: string, bound: DecimalBound): AnyNode => ({ A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: o } }], lexpr: col, rexpr: at(bound) } });
    switch (op) {
      case '<': return cmp('<', 'above');
      case '>=': return cmp('>=', 'above');
      case '<=': return cmp('<=', 'below');
      case '>': return cmp('>', 'below');
      case '=': return { BoolExpr: { boolop: 'AND_EXPR', args: [cmp('>=', 'above'), cmp('<=', 'below')] } };
      default: return { BoolExpr: { boolop: 'OR_EXPR', args: [cmp('<', 'above'), cmp('>', 'below')] } };
    }
  }

  /**
   * A constant of a cast (`'…'::timestamptz`) whose value depends on the
   * session running it, converted by it at each run: the translation is
   * shared by every session, at every moment.
   */
  private hoistTyped(text: string, oid: number): AnyNode {
    const ref = { number: HOISTED + this.literals.length, location: -1 };
    this.literals.push({ ref, text, compare: false, oid });
    return { ParamRef: ref };
  }

  /** A string constant (`{A_Const}`) as a parameter of its own; null for anything else. */
  hoist(v: AnyNode | undefined, compare: boolean): AnyNode | null {
    // a definition (CHECK, a view, a partial index) is stored as written: SQLite allows no parameters in one
    if (this.ddl) return null;
    const c = v?.A_Const;
    if (!c || c.isnull || !c.sval) return null;
    const ref = { number: HOISTED + this.literals.length, location: c.location ?? -1 };
    this.literals.push({ ref, text: c.sval.sval ?? '', compare });
    return { ParamRef: ref };
  }

  /** Parameters the session binds to a column's declared type (SqlStatement.columnTypes). */
  typeRefs: { ref: AnyNode; col: { qualifier?: string; column: string } }[] = [];

  private typeParam(col: { qualifier?: string; column: string }): AnyNode {
    const ref = { number: TYPE_PARAMS + this.typeRefs.length, location: -1 };
    this.typeRefs.push({ ref, col });
    return { ParamRef: ref };
  }

  /**
   * A value as PostgreSQL's text: a column by its declared type, another
   * value by its evident one (a boolean is 'true' where the SQL casts it,
   * 't' where concat() prints it); null when SQLite's text is PostgreSQL's.
   */
  textOf(v: AnyNode, output: boolean): AnyNode | null {
    if (this.ddl) return null;
    const c = colRef(v);
    if (c) return fn('cutover_text', v, this.typeParam(c), iconst(output ? 1 : 0));
    const declared = TEXT_DECLARED[hintOf(v) ?? 0];
    return declared ? fn('cutover_text', v, sconst(declared), iconst(output ? 1 : 0)) : null;
  }

  /** The hoisted constants become $maxParam+1…, in order (paramColumns follow), then the column types. */
  numberLiterals(): void {
    const moved = new Map<number, number>();
    this.literals.forEach((l, i) => {
      moved.set(l.ref.number, this.maxParam + 1 + i);
      l.ref.number = this.maxParam + 1 + i;
    });
    this.typeRefs.forEach((t, i) => {
      t.ref.number = this.maxParam + 1 + this.literals.length + i;
    });
    for (const pc of this.paramColumns) pc.param = moved.get(pc.param) ?? pc.param;
  }

  paramTypes = new Map<number, number>();
  paramColumns: ParamColumn[] = [];
  tables: { name: string; alias?: string }[] = [];
  locking = false;

  protected node(type: string, n: AnyNode, self: AnyNode): AnyNode {
    switch (type) {
      case 'ParamRef':
        if (n.number < HOISTED) this.maxParam = Math.max(this.maxParam, n.number);
        if (n.number < HOISTED) this.keptParams.add(n.number);
        return self;
      case 'TypeCast':
        return this.cast(n, self);
      case 'A_Const': {
        if (n.bsval) throw unsupported('bit-string constants');
        // SQLite would hold, return or compute with another number; a comparison that is made exact got its own parameter first
        const text = inexactDecimal(self);
        if (text !== undefined && !n[NATIVE] && !this.approved.has(n)) keptWhole(text);
        return self;
      }
      case 'A_Expr':
        return this.expr(n, self);
      case 'FuncCall':
        return this.func(n, self);
      case 'SQLValueFunction':
        return this.valueFunction(n);
      case 'SelectStmt':
        this.select(n);
        return self;
      case 'RangeVar':
        // the alias is a bare struct here, not an Alias node the case below would see
        if (n.alias?.colnames?.length) throw unsupported('column alias lists on a table alias (t(a, b))');
        rangeVar(n);
        // every table named, joined ones too, for the columns parameters are compared with (paramColumns)
        if (n.relname) this.tables.push({ name: n.relname, alias: n.alias?.aliasname });
        return self;
      case 'SortBy':
        // PostgreSQL sorts NULLs last ascending, first descending; SQLite the other way round
        if (n.sortby_nulls === 'SORTBY_NULLS_DEFAULT' && n.sortby_dir !== 'SORTBY_USING') {
          n.sortby_nulls = n.sortby_dir === 'SORTBY_DESC' ? 'SORTBY_NULLS_FIRST' : 'SORTBY_NULLS_LAST';
        }
        if (n.sortby_dir === 'SORTBY_USING') throw unsupported('ORDER BY … USING');
        return self;
      case 'SubLink':
        if (n.subLinkType === 'ANY_SUBLINK' && n.operName) {
          if (lastName(n.operName) !== '=') throw unsupported('op ANY (subquery) other than = ANY');
          delete n.operName; // = ANY (subquery) is IN (subquery)
        } else if (!['EXISTS_SUBLINK', 'EXPR_SUBLINK', 'ANY_SUBLINK'].includes(n.subLinkType)) {
          throw unsupported(`${String(n.subLinkType).replace('_SUBLINK', '')} subqueries`);
        }
        return self;
      case 'RangeSubselect':
        if (n.lateral) throw unsupported('LATERAL');
        if (n.alias?.colnames?.length) valuesWithColumnNames(n);
        return self;
      case 'Alias':
        if (n.colnames?.length) throw unsupported('column alias lists on a table alias (t(a, b))');
        return self;
      case 'OnConflictClause':
        if (n.infer?.InferClause?.conname) throw unsupported('ON CONFLICT ON CONSTRAINT');
        return self;
      case 'InsertStmt':
        if (n.override && n.override !== 'OVERRIDING_NOT_SET') throw unsupported('OVERRIDING … VALUE');
        return self;
      case 'DeleteStmt':
        if (n.usingClause?.length) throw unsupported('DELETE … USING');
        return self;
      case 'BoolExpr':
        // an operand of NOT, AND, OR is boolean: a parameter there is bound as one ('t', true), not as text
        for (const a of n.args ?? []) if (a?.ParamRef && !this.paramTypes.has(a.ParamRef.number)) this.paramTypes.set(a.ParamRef.number, OID.bool);
        return self;
      case 'BooleanTest':
        // IS [NOT] UNKNOWN is IS [NOT] NULL of a boolean; SQLite has IS [NOT] TRUE/FALSE but no UNKNOWN
        if (n.booltesttype === 'IS_UNKNOWN' || n.booltesttype === 'IS_NOT_UNKNOWN') {
          return { NullTest: { arg: n.arg, nulltesttype: n.booltesttype === 'IS_UNKNOWN' ? 'IS_NULL' : 'IS_NOT_NULL', location: n.location } };
        }
        return self;
      case 'NullTest': case 'CaseExpr': case 'CaseWhen': case 'CoalesceExpr':
      case 'ColumnRef': case 'String': case 'Integer': case 'Float': case 'Boolean': case 'A_Star': case 'ResTarget':
      case 'CommonTableExpr':
        // SQLite's WITH holds only a SELECT: said so, not a syntax error near INSERT
        if (n.ctequery && !n.ctequery.SelectStmt) throw unsupported('data-modifying statements in WITH (INSERT/UPDATE/DELETE in a CTE)');
        return self;
      case 'JoinExpr': case 'WithClause': case 'InferClause': case 'IndexElem': case 'List':
      case 'WindowDef': case 'UpdateStmt': case 'CreateStmt': case 'ColumnDef': case 'Constraint': case 'TypeName':
      case 'DropStmt': case 'IndexStmt': case 'ViewStmt': case 'AlterTableStmt': case 'AlterTableCmd': case 'RenameStmt':
        return self;
      case 'SetToDefault':
        throw unsupported('DEFAULT as a value (omit the column instead)');
      case 'A_ArrayExpr': case 'A_Indirection':
        throw unsupported('arrays');
      case 'RangeFunction':
        return seriesInFrom(n, self);
      case 'MinMaxExpr': {
        // a parameter among the values takes the others' type, as in PostgreSQL (GREATEST($1, score))
        const args: AnyNode[] = n.args ?? [];
        const typed = args.find((a) => !a?.ParamRef);
        if (typed) for (const a of args) if (a?.ParamRef) this.noteParamColumn(a, typed);
        return fn(n.op === 'IS_GREATEST' ? 'cutover_greatest' : 'cutover_least', ...args);
      }
      case 'CollateClause': {
        // "C" and "POSIX" order by the bytes of the UTF-8 text: SQLite's BINARY. Others (ICU, libc locales) have no equivalent here
        const name = str((n.collname as AnyNode[])[n.collname.length - 1]);
        if (name !== 'C' && name !== 'POSIX') throw unsupported(`COLLATE "${name}"`, 'COLLATE "C" is supported (byte order)');
        if (this.ddl) throw unsupported('COLLATE in a definition');
        n.collname = [{ String: { sval: 'binary' } }];
        return self;
      }
      case 'RowExpr':
        throw unsupported('row constructors');
      case 'MultiAssignRef':
        throw unsupported('UPDATE … SET (a, b) = (…)');
      default:
        throw unsupported(type.replace(/([a-z])([A-Z])/g, '$1 $2'));
    }
  }

  private select(n: AnyNode): void {
    if (n.distinctClause?.some((d: AnyNode) => Object.keys(d).length > 0)) throw unsupported('DISTINCT ON');
    if (n.lockingClause) {
      // writers are serialized: the statement takes the SQLite write lock instead of row locks
      this.locking = true;
      delete n.lockingClause;
    }
    if (n.limitOption === 'LIMIT_OPTION_WITH_TIES') throw unsupported('FETCH … WITH TIES');
    // LIMIT ALL (and LIMIT NULL) is no limit; SQLite has no word for it
    if (n.limitCount?.A_Const?.isnull) delete n.limitCount;
    // OFFSET NULL is none; a NULL limit or offset bound at run time too
    if (n.limitOffset?.A_Const?.isnull) delete n.limitOffset;
    if (n.limitCount && !n.limitCount.A_Const) n.limitCount = fn('coalesce', n.limitCount, iconst(-1));
    if (n.limitOffset && !n.limitOffset.A_Const) n.limitOffset = fn('coalesce', n.limitOffset, iconst(0));
    // SQLite's OFFSET needs a LIMIT before it: -1 is none
    if (n.limitOffset && !n.limitCount) n.limitCount = iconst(-1);
    if ((n.op === 'SETOP_INTERSECT' || n.op === 'SETOP_EXCEPT') && n.all) throw unsupported(`${n.op === 'SETOP_INTERSECT' ? 'INTERSECT' : 'EXCEPT'} ALL`);
    if (n.groupClause?.some((g: AnyNode) => g.GroupingSet)) throw unsupported('GROUPING SETS / ROLLUP / CUBE');
    seriesInTargets(n);
  }

  private cast(n: AnyNode, self: AnyNode): AnyNode {
    const tn = n.typeName as AnyNode;
    if (tn[SQLITE_TYPE]) return self; // already translated
    if (tn.arrayBounds) throw unsupported('array types');
    const oid = typeNameOid(tn);
    const name = lastName(tn.names);
    if (oid === undefined) throw unsupported(`cast to ${name}`);
    const arg = n.arg as AnyNode;
    const typed = arg.ParamRef ? this.paramTypes.get(arg.ParamRef.number) : undefined;
    if (arg.ParamRef && (typed === undefined || typed === oid)) {
      // $1::int8 types the parameter; the value arrives already converted. A later cast
      // to another type ($1::timestamptz, $1::timestamp) converts that value, as PostgreSQL's first cast decides
      this.paramTypes.set(arg.ParamRef.number, oid);
      return arg;
    }
    const checked = this.checkedCast(oid, tn, arg);
    if (checked) return checked;
    if (TIME_CASTS.has(oid) && !this.ddl && !arg.A_Const) {
      // between date, timestamp and timestamptz the session's zone decides (types.ts, castTime): the value's type goes along
      const c = colRef(arg);
      const declared = TIME_DECLARED[(arg.ParamRef ? typed : undefined) ?? hintOf(arg) ?? 0];
      const from = c ? this.typeParam(c) : declared ? sconst(declared) : null;
      if (from) return fn('cutover_time_cast', arg, from, iconst(oid));
    }
    if (oid === OID.bool) {
      const c = arg.A_Const;
      if (c?.sval) {
        const b = BOOL_WORDS[String(c.sval.sval).trim().toLowerCase()];
        if (b === undefined) throw new PgError('22P02', `invalid input syntax for type boolean: "${c.sval.sval}"`);
        return iconst(b ? 1 : 0);
      }
      if (c?.ival !== undefined || c?.boolval !== undefined || c?.isnull) return arg;
      // text is read as PostgreSQL's boolean input, refused (22P02) when it is none; an integer's nonzero is true
      if (!this.ddl) return fn('cutover_bool', arg);
      return { A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: '<>' } }], lexpr: arg, rexpr: iconst(0) } };
    }
    if (oid === OID.date) return arg.A_Const ? arg : fn('date', arg);
    if ((oid === OID.float8 || oid === OID.float4) && arg.A_Const?.sval) {
      // SQLite reads 'Infinity' as 0 and stores no NaN: spell the infinities as SQLite's overflowing literal
      const v = checkFloatInput(String(arg.A_Const.sval.sval), oid === OID.float4 ? 4 : 8);
      if (typeof v === 'number') return infinity(v < 0);
    }
    if (oid === OID.bytea && arg.A_Const?.sval) {
      // '\x0102'::bytea is bytes, not text: unhex() makes the BLOB
      const s: string = arg.A_Const.sval.sval ?? '';
      if (!/^\\x([0-9a-fA-F]{2})*$/.test(s)) throw unsupported('bytea literals other than the hex form \\x…');
      return fn('unhex', sconst(s.slice(2)));
    }
    const to = CAST_TO[oid];
    if (to === undefined) throw unsupported(`cast to ${name}`);
    if (to === 'TEXT') {
      const text = this.textOf(arg, false);
      if (text) return text;
    }
    if (to === null) return arg;
    return sqliteCast(arg, to);
  }

  /**
   * Casts PostgreSQL refuses for some inputs, where SQLite's CAST makes 0 of
   * 'abc' or 12 of '12abc'. A constant is checked now (PostgreSQL refuses it
   * as the statement is analysed); another value goes through a checking
   * function (checks.ts). null: the cast is translated as before.
   */
  private checkedCast(oid: number, tn: AnyNode, arg: AnyNode): AnyNode | null {
    const c = arg.A_Const as AnyNode | undefined;
    const text: string | undefined = c?.sval ? (c.sval.sval ?? '') : undefined;
    const bits = INT_BITS[oid];
    if (bits) {
      if (text !== undefined) parseIntInput(text, oid);
      else if (c?.ival) fitInt(BigInt(c.ival.ival ?? 0), bits);
      // 1.9::int is 2, as numeric → integer rounds (SQLite's CAST truncates)
      else if (c?.fval) return fconst(String(decimalToInt(c.fval.fval, bits)));
      else if (!c && !this.ddl) {
        const h = hintOf(arg);
        return fn('cutover_int', arg, iconst(bits), iconst(h === OID.float8 || h === OID.float4 ? 1 : 0));
      }
      return null;
    }
    if (oid === OID.float8 || oid === OID.float4) {
      // numeric → real reads the numeric's text with float4in: past real's range it is refused, as that text
      if (oid === OID.float4 && c?.fval && !c[NATIVE]) checkFloatInput(plainDecimal(String(c.fval.fval)), 4);
      // a decimal SQLite cannot hold is read as PostgreSQL's cast reads it: the nearest double (or 22003 past the range)
      const inexact = inexactDecimal(arg);
      if (inexact !== undefined) {
        decimalBound(inexact, 'above', true);
        this.approved.add(c!);
      }
      return !c && !this.ddl ? sqliteCast(fn('cutover_float', arg, iconst(oid === OID.float4 ? 4 : 8)), 'REAL') : null;
    }
    if (oid === OID.numeric) {
      const [p = 0, s = 0] = typmods(tn);
      if (text !== undefined) {
        checkNumeric(text, p, s);
        const t = text.trim().toLowerCase();
        if (t === 'infinity' || t === '+infinity' || t === '-infinity') return infinity(t.startsWith('-'));
      } else if (c?.ival || c?.fval) checkNumeric(c.ival ? String(c.ival.ival ?? 0) : c.fval.fval, p, s);
      else if (!c && !this.ddl) return sqliteCast(fn('cutover_numeric', arg, iconst(p), iconst(s)), 'NUMERIC');
      return null;
    }
    if (text !== undefined && !this.ddl && (oid === OID.timestamp || oid === OID.timestamptz || oid === OID.date)) {
      // a timestamptz without an offset is the session's local time; 'now', 'today' … are the moment it runs
      const word = readsSession(text); // also '1/5/2024', read in the session's DateStyle
      if (word || (oid === OID.timestamptz && !hasZone(text))) {
        checkTimeInput(text, oid); // refused here if it is no date-time at all (in any DateStyle)
        return this.hoistTyped(text, oid);
      }
    }
    // a constant in the form PostgreSQL prints and the proxy stores: 'A0EE…'::uuid is a0ee…, a timestamp's zone applied
    if (text !== undefined && (oid === OID.uuid || oid === OID.date || oid === OID.timestamp || oid === OID.timestamptz)) return sconst(String(decodeTextParam(text, oid)));
    if (text !== undefined && (oid === OID.json || oid === OID.jsonb)) {
      try {
        JSON.parse(text);
      } catch {
        throw new PgError('22P02', 'invalid input syntax for type json');
      }
    }
    return null;
  }

  /**
   * + - * / % where PostgreSQL errs and SQLite goes on: integer overflow
   * (SQLite continues in floating point) and division by zero (SQLite: NULL).
   * The width is the one PostgreSQL computes in (int4 for integer literals,
   * int8 for columns and the rest). Left alone where neither can happen.
   */
  private arith(op: string, n: AnyNode, self: AnyNode): AnyNode {
    const l = n.lexpr as AnyNode;
    const r = n.rexpr as AnyNode;
    if (op === '+' || op === '-') {
      const dated = this.dateArith(op, l, r, () => this.numericArith(op, l, r, self));
      if (dated) return dated;
    }
    return this.numericArith(op, l, r, self);
  }

  /**
   * date ± integer is a date, date − date a number of days, as PostgreSQL's
   * operators: SQLite's arithmetic read '2024-01-05' + 1 as 2025. A date the
   * text shows (CURRENT_DATE, ::date, $1::date) is computed so; beside a
   * column, its declared type decides when the statement runs (a CASE on it,
   * the numeric arithmetic otherwise). null: numeric arithmetic only.
   */
  private dateArith(op: string, l: AnyNode, r: AnyNode, numeric: () => AnyNode): AnyNode | null {
    const [lh, rh] = [hintOf(l), hintOf(r)];
    const [lc, rc] = [colRef(l), colRef(r)];
    const sign = iconst(op === '-' ? -1 : 1);
    const integral = (h: number | undefined, x: AnyNode) => h === OID.int2 || h === OID.int4 || h === OID.int8 || numberConst(x)?.int !== undefined;
    const when = (test: AnyNode, then: AnyNode, otherwise: AnyNode): AnyNode => ({ CaseExpr: { args: [{ CaseWhen: { expr: test, result: then } }], defresult: otherwise } });
    const isDate = (c: { qualifier?: string; column: string }) => fn('cutover_is_date', this.typeParam(c));
    const diff = () => fn('cutover_date_diff', l, r);
    /** The date `d` moved by the integer `n` (backwards for −). */
    const add = (d: AnyNode, n: AnyNode) => fn('cutover_date_add', d, asNumber(n), sign);
    if (lh === OID.date && rh === OID.date) return op === '-' ? diff() : null;
    // a date minus a column: days if the column is a date, else the column's integer days back
    if (lh === OID.date && rc && op === '-') return when(isDate(rc), diff(), add(l, r));
    if (lh === OID.date && (integral(rh, r) || rc)) return add(l, r);
    if (op === '+' && rh === OID.date && (integral(lh, l) || lc)) return add(r, l);
    if (op === '-' && lc && lh === undefined && rh === OID.date) return when(isDate(lc), diff(), numeric());
    // date column − date column: days; date column ± integer: a date
    if (lc && lh === undefined && (integral(rh, r) || rc)) return when(isDate(lc), rc && op === '-' ? when(isDate(rc), diff(), add(l, r)) : add(l, r), numeric());
    if (op === '+' && rc && rh === undefined && integral(lh, l)) return when(isDate(rc), add(r, l), numeric());
    return null;
  }

  private numericArith(op: string, l: AnyNode, r: AnyNode, self: AnyNode): AnyNode {
    const lc = numberConst(l);
    const rc = numberConst(r);
    const exact = EXACT[op];
    const h = hintOf(self);
    const bits: Bits = h === OID.int2 ? 16 : h === OID.int4 ? 32 : 64;
    if (lc && rc && (lc.int === undefined || rc.int === undefined)) {
      // two constants, one a decimal: SQLite computes a double; left to it unless that over- or underflows (the function errs when run)
      if (floatFits(op, lc.value, rc.value)) return self;
    } else if (exact) {
      // beside a decimal constant the arithmetic is floating point: only a constant this large can overflow there (+ and − check no underflow)
      const decimal = lc && lc.int === undefined ? lc : rc && rc.int === undefined ? rc : undefined;
      if (decimal && op !== '*' && Math.abs(decimal.value) < 1e291) return self;
      // two integer constants that stay in range: SQLite computes the same
      if (lc?.int !== undefined && rc?.int !== undefined && fitsInt(exact(lc.int, rc.int), bits)) return self;
    } else if (rc && rc.value !== 0 && !(op === '/' && rc.value === -1) && (rc.int !== undefined || Math.abs(rc.value) >= 1)) return self;
    return fn(ARITH[op]!, asNumber(l), asNumber(r), this.width(self));
  }

  /**
   * The integer width PostgreSQL computes `x` in, as a node: int2 and int4
   * keep their own (an int4 column plus 1 overflows at int4), a column's is
   * its declared type, which the session binds when the statement runs and
   * cutover_width reads. Evident widths alone make a constant.
   */
  private width(x: AnyNode): AnyNode {
    const parts = this.widths(x);
    if (parts.every((p) => typeof p === 'number')) return iconst(Math.max(...(parts as number[])) || 64);
    return fn('cutover_width', ...parts.map((p) => (typeof p === 'number' ? iconst(p) : p)));
  }

  /** The operands' widths (16, 32, 64; 0 for an untyped parameter, which takes the other operand's type) or columns' declared types. */
  private widths(x: AnyNode): (number | AnyNode)[] {
    const h = hintOf(x);
    if (h !== undefined) return [INT_BITS[h] ?? 64];
    const c = colRef(x);
    // a column a subquery or CTE makes may bear a table column's name (the session finds columns by name): checked as int8
    if (c) return this.derived ? [64] : [this.typeParam(c)];
    if (x.ParamRef) return [0];
    const e = x.A_Expr;
    if (e?.kind === 'AEXPR_OP' && ARITH[lastName(e.name)] && e.rexpr) return [...(e.lexpr ? this.widths(e.lexpr) : []), ...this.widths(e.rexpr)];
    if (x.FuncCall && lastName(x.FuncCall.funcname) === 'abs' && x.FuncCall.args?.length === 1) return this.widths(x.FuncCall.args[0]);
    return [64];
  }

  /**
   * Unary minus of a value that may be the lowest integer of its width:
   * PostgreSQL's int8um/int4um refuse it (22003), SQLite made it a double.
   * Constants are folded by the parser, and a float or numeric cannot overflow.
   */
  private negate(r: AnyNode, self: AnyNode): AnyNode {
    if (numberConst(r)) return self;
    const h = hintOf(r);
    if (h === OID.float8 || h === OID.float4 || h === OID.numeric) return self;
    return fn('cutover_neg', asNumber(r), this.width(r));
  }

  private expr(n: AnyNode, self: AnyNode): AnyNode {
    const op = lastName(n.name);
    switch (n.kind) {
      case 'AEXPR_OP':
        if (!OPERATORS.has(op)) throw unsupported(`operator ${op}`);
        if (ARITH[op] && n.lexpr && n.rexpr && !this.ddl && !n[NATIVE]) return this.arith(op, n, self);
        if (op === '-' && !n.lexpr && n.rexpr && !this.ddl && !n[NATIVE]) return this.negate(n.rexpr, self);
        if (op === '||' && n.lexpr && n.rexpr) {
          // each side is cast to text, as PostgreSQL's anytextcat does (a boolean is 'true')
          n.lexpr = this.textOf(n.lexpr, false) ?? n.lexpr;
          n.rexpr = this.textOf(n.rexpr, false) ?? n.rexpr;
          return self;
        }
        if (n.lexpr && n.rexpr && (op === '=' || op === '<>' || op === '!=' || op === '<' || op === '>' || op === '<=' || op === '>=')) {
          const exact = this.exactCompare(op, n.lexpr, n.rexpr);
          if (exact) return exact;
          if (colRef(n.lexpr)) n.rexpr = this.hoist(n.rexpr, true) ?? n.rexpr;
          else if (colRef(n.rexpr)) n.lexpr = this.hoist(n.lexpr, true) ?? n.lexpr;
          else if (n.rexpr.A_Const?.sval) n.rexpr = this.timeConstant(n.lexpr, n.rexpr);
          else if (n.lexpr.A_Const?.sval) n.lexpr = this.timeConstant(n.rexpr, n.lexpr);
          this.noteParamColumn(n.lexpr, n.rexpr);
        }
        return self;
      case 'AEXPR_DISTINCT':
        this.noteParamColumn(n.lexpr, n.rexpr);
        return { A_Expr: { ...n, kind: 'AEXPR_OP', name: [{ String: { sval: 'IS NOT' } }] } };
      case 'AEXPR_NOT_DISTINCT':
        this.noteParamColumn(n.lexpr, n.rexpr);
        return { A_Expr: { ...n, kind: 'AEXPR_OP', name: [{ String: { sval: 'IS' } }] } };
      case 'AEXPR_IN':
      case 'AEXPR_BETWEEN':
      case 'AEXPR_NOT_BETWEEN':
        // col IN (…) and col BETWEEN … AND …: each constant and parameter of the list is compared with col
        {
          const list: AnyNode[] | undefined = Array.isArray(n.rexpr) ? n.rexpr : n.rexpr?.List?.items;
          // (a column only: the expansion names it once per value)
          if (n.kind === 'AEXPR_IN' && colRef(n.lexpr) && list?.some((v) => inexactDecimal(v) !== undefined || numericParam(v) !== undefined) && !this.ddl) {
            // PostgreSQL's IN is = to each value (NOT IN <> to each): so written, each comparison is made exact (exactCompare)
            const each = list.map((v): AnyNode => ({ A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: op } }], lexpr: n.lexpr, rexpr: v } }));
            return { BoolExpr: { boolop: op === '=' ? 'OR_EXPR' : 'AND_EXPR', args: each } };
          }
          if (colRef(n.lexpr) && list) {
            const between = n.kind !== 'AEXPR_IN';
            list.forEach((v, i) => {
              // BETWEEN a AND b is >= a AND <= b (NOT BETWEEN < a OR > b): each bound as exactCompare makes it
              const text = between && !this.ddl ? inexactDecimal(v) : undefined;
              const param = between && !this.ddl ? numericParam(v) : undefined;
              const side = i === 0 ? 'above' : 'below';
              if (param !== undefined) list[i] = this.hoistParamBound(param, side);
              else list[i] = (text !== undefined && boundable(text) ? this.hoistBound(text, side) : null) ?? this.hoist(v, true) ?? v;
              this.noteParamColumn(n.lexpr, list[i]!);
            });
          }
        }
        return self;
      case 'AEXPR_NULLIF':
        return self;
      case 'AEXPR_LIKE':
      case 'AEXPR_ILIKE':
        return this.like(n, op);
      case 'AEXPR_OP_ANY':
      case 'AEXPR_OP_ALL':
        throw unsupported(`${op} ${n.kind === 'AEXPR_OP_ANY' ? 'ANY' : 'ALL'} (array)`);
      case 'AEXPR_SIMILAR':
        throw unsupported('SIMILAR TO');
      default:
        throw unsupported(String(n.kind).replace('AEXPR_', '').replace(/_/g, ' '));
    }
  }

  private noteParamColumn(l: AnyNode, r: AnyNode): void {
    const [other, p] = l?.ParamRef ? [r, l.ParamRef.number] : r?.ParamRef ? [l, r.ParamRef.number] : [null, 0];
    if (!other || !p) return;
    const c = colRef(other);
    if (c) this.paramColumns.push({ param: p, ...c });
    else {
      // compared with an expression of evident type (coalesce(flag, false) = $1): bound as that type
      const h = hintOf(other);
      if (h !== undefined && !this.paramTypes.has(p)) this.paramTypes.set(p, h);
    }
  }

  /**
   * LIKE keeps PostgreSQL's meaning: case-sensitive (the connection runs with
   * case_sensitive_like) with backslash as the default escape, written with
   * SQLite's like(pattern, value, escape); ILIKE compares lower() of both.
   */
  private like(n: AnyNode, op: string): AnyNode {
    let pattern = n.rexpr as AnyNode;
    let escape: AnyNode | null = BACKSLASH();
    const f = pattern.FuncCall;
    if (f && lastName(f.funcname) === 'like_escape') {
      pattern = f.args[0];
      const e = f.args[1];
      escape = e?.A_Const?.sval && (e.A_Const.sval.sval ?? '') === '' ? null : e;
    }
    let value = n.lexpr as AnyNode;
    const insensitive = n.kind === 'AEXPR_ILIKE';
    if (insensitive) {
      pattern = fn('lower', pattern);
      value = fn('lower', value);
    }
    this.noteParamColumn(n.lexpr, n.rexpr);
    const call = escape ? fn('like', pattern, value, escape) : fn('like', pattern, value);
    const negated = op.startsWith('!');
    return negated ? { BoolExpr: { boolop: 'NOT_EXPR', args: [call] } } : call;
  }

  private func(n: AnyNode, self: AnyNode): AnyNode {
    if (n[NATIVE]) return self;
    const names: AnyNode[] = n.funcname ?? [];
    if (names.length > 1 && str(names[0]) !== 'pg_catalog') throw unsupported(`function ${names.map(str).join('.')}()`);
    const name = lastName(names);
    if (n.func_variadic) throw unsupported('VARIADIC');
    if (DATE_FIELDS.has(name) && !this.ddl) return this.dateField(name, n);
    if (n.funcformat === 'COERCE_SQL_SYNTAX' && !['btrim', 'ltrim', 'rtrim', 'substring'].includes(name)) {
      throw unsupported(`${name.toUpperCase()}(…) syntax`);
    }
    n.funcformat = 'COERCE_EXPLICIT_CALL';
    n.funcname = [{ String: { sval: name } }];
    if (NOW.has(name) && !n.args?.length) return TRANSACTION_NOW.has(name) ? this.transactionNow() : nowExpr();
    if (name === 'random' && !n.args?.length) {
      // PostgreSQL: double in [0, 1); SQLite: a random 64-bit integer
      return { A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: '+' } }], lexpr: { A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: '/' } }], lexpr: fn('random'), rexpr: fconst('18446744073709551616.0') } }, rexpr: fconst('0.5') } };
    }
    if ((name === 'substr' || name === 'substring') && !this.ddl && (n.args?.length === 2 || n.args?.length === 3)) {
      // a start below 1 counts from the end in SQLite, is cut off in PostgreSQL, and a negative count is an error
      // there: SQLite's own only for a constant start of 1 or more and no count or a constant one of 0 or more
      if (n.args[1].A_Const?.sval) throw unsupported('substring(… FROM pattern) (regular expressions)');
      const start = numberConst(n.args[1]);
      const count = n.args[2] ? numberConst(n.args[2]) : undefined;
      const native = start?.int !== undefined && start.int >= 1n && (!n.args[2] || (count !== undefined && count.value >= 0));
      if (!native) return fn('cutover_substr', ...n.args);
    }
    if (RENAMED[name]) {
      n.funcname = [{ String: { sval: RENAMED[name] } }];
      return self;
    }
    // concat() prints each argument with its type's output function (a boolean is 't')
    if ((name === 'concat' || name === 'concat_ws') && n.args?.length) n.args = n.args.map((a: AnyNode) => this.textOf(a, true) ?? a);
    // mod(x, 0) is NULL in SQLite, division by zero in PostgreSQL
    if (name === 'mod' && n.args?.length === 2 && !this.ddl) n.args[1] = fn('cutover_divisor', asNumber(n.args[1]));
    if (SAME.has(name)) return this.ddl ? self : this.checkedMath(name, n, self);
    throw unsupported(`function ${name}()`);
  }

  /**
   * float8 functions PostgreSQL errs in where SQLite answers (checks.ts):
   * power() and exp() past the range, sqrt() and ln() outside their domain,
   * sum() and avg() whose running sum of doubles overflows. SQLite's result
   * is kept and checked beside a copy of what it came from (each argument, or
   * the least and greatest value summed, under the same FILTER and OVER).
   * power() of a numeric is PostgreSQL's numeric power, left as it is.
   */
  private checkedMath(name: string, n: AnyNode, self: AnyNode): AnyNode {
    const args: AnyNode[] = n.args ?? [];
    const floatOrUnknown = (x: AnyNode) => {
      const h = hintOf(x);
      return h === undefined || h === OID.float8 || h === OID.float4;
    };
    switch (name) {
      case 'power':
        if (args.length !== 2 || args.some((a) => hintOf(a) === OID.numeric)) return self;
        n[NATIVE] = true;
        return fn('cutover_power', self, structuredClone(args[0]!), structuredClone(args[1]!));
      case 'exp':
        if (args.length !== 1 || hintOf(args[0]) === OID.numeric) return self;
        n[NATIVE] = true;
        return fn('cutover_exp', self, structuredClone(args[0]!));
      case 'abs': {
        // abs() of the lowest int2 or int4 leaves its range (SQLite's own abs() errs past int8 only)
        if (args.length !== 1 || !floatOrUnknown(args[0]!) && hintOf(args[0]) !== OID.int2 && hintOf(args[0]) !== OID.int4) return self;
        const width = this.width(args[0]!);
        if (width.A_Const && numberConst(width)?.value === 64) return self;
        n[NATIVE] = true;
        return fn('cutover_fit', self, width);
      }
      case 'sqrt':
      case 'ln':
        if (args.length === 1) n.args = [fn('cutover_math_arg', sconst(name), args[0]!)];
        return self;
      case 'sum':
      case 'avg': {
        const integral = (INT_BITS[hintOf(args[0]) ?? 0] ?? 0) > 0;
        if (args.length !== 1 || n.agg_star || !(floatOrUnknown(args[0]!) || (name === 'avg' && integral))) return self;
        n[NATIVE] = true;
        const twin = (m: string): AnyNode => ({ FuncCall: { ...structuredClone(n), funcname: [{ String: { sval: m } }] } });
        // PostgreSQL's running state, value by value (a window function would need it undone: there the result is checked)
        if (!n.over && name === 'sum') return fn('coalesce', twin('cutover_float_sum'), self);
        // avg() of integers is PostgreSQL's exact numeric quotient (checks.ts, intAverage); of anything else SQLite's
        if (!n.over) return fn('coalesce', twin('cutover_float_avg'), twin('cutover_int_avg'), self);
        return fn('cutover_total', self, twin('min'), twin('max'));
      }
      default:
        return self;
    }
  }

  /**
   * A string constant compared with a date-time expression (`date_trunc('day',
   * at) = '2024-03-10 00:00+01'`, `now() > '2024-01-01'`) is read as a value of
   * its type, in the stored spelling, by the session at each run (its zone):
   * as text it compared as written. Else the constant as it is.
   */
  private timeConstant(expr: AnyNode, constant: AnyNode): AnyNode {
    const text = String(constant.A_Const.sval.sval ?? '');
    const h = hintOf(expr);
    if (h !== undefined) return TIME_CASTS.has(h) && !this.ddl ? this.hoistTyped(text, h) : constant;
    const typed = columnHintOf(expr);
    if (!typed || this.ddl) return constant;
    const ref = { number: HOISTED + this.literals.length, location: -1 };
    this.literals.push({ ref, text, compare: true, typed });
    return { ParamRef: ref };
  }

  /**
   * date_trunc(unit, x), date_part(unit, x), EXTRACT(unit FROM x) over a date,
   * a timestamp or a timestamptz: the session computes them (date-fields.ts)
   * from the value and its declared type, on the wall clock of its zone.
   */
  private dateField(name: string, n: AnyNode): AnyNode {
    const args: AnyNode[] = n.args ?? [];
    if (args.length !== 2) throw unsupported(`${name}() with ${args.length} arguments`);
    const unit = args[0]!.A_Const?.sval?.sval as string | undefined;
    if (unit === undefined) throw unsupported(`${name}() of a unit that is not a constant`);
    const x = args[1]!;
    if (x.A_Const?.sval || x.ParamRef) throw new PgError('42725', `function ${name}(unknown, unknown) is not unique`, undefined, 'Could not choose a best candidate function. You might need to add explicit type casts.');
    const c = colRef(x);
    const hint = hintOf(x);
    const from = c ? this.typeParam(c) : hint === OID.date || hint === OID.timestamp || hint === OID.timestamptz ? sconst(TIME_DECLARED[hint]!) : null;
    if (!from) throw unsupported(`${name}() of a value that is not a date, timestamp or timestamptz`);
    return name === 'date_trunc' ? fn('cutover_date_trunc', sconst(unit), x, from) : fn('cutover_date_part', sconst(unit), x, from, iconst(name === 'extract' ? 1 : 0));
  }

  /**
   * now(), CURRENT_TIMESTAMP: the start of the transaction, as PostgreSQL's
   * (every row a transaction writes gets the same one), from the session
   * (session-engine.ts, cutover_now). A column DEFAULT in the file's schema
   * keeps SQLite's own clock: the schema must not need the proxy.
   */
  private transactionNow(): AnyNode {
    return this.ddl ? nowExpr() : fn('cutover_now');
  }

  private valueFunction(n: AnyNode): AnyNode {
    switch (n.op) {
      case 'SVFOP_CURRENT_TIMESTAMP': case 'SVFOP_CURRENT_TIMESTAMP_N':
        return this.transactionNow();
      // the session's wall clock and day, in its TimeZone (session-engine.ts)
      case 'SVFOP_LOCALTIMESTAMP': case 'SVFOP_LOCALTIMESTAMP_N':
        return this.ddl ? nowExpr() : fn('cutover_localnow');
      case 'SVFOP_CURRENT_DATE':
        return this.ddl ? fn('date', sconst('now')) : fn('cutover_today');
      case 'SVFOP_CURRENT_TIME': case 'SVFOP_CURRENT_TIME_N': case 'SVFOP_LOCALTIME': case 'SVFOP_LOCALTIME_N':
        return fn('strftime', sconst('%H:%M:%f'), sconst('now'));
      case 'SVFOP_CURRENT_ROLE': case 'SVFOP_CURRENT_USER': case 'SVFOP_USER': case 'SVFOP_SESSION_USER':
        return fn('cutover_user');
      case 'SVFOP_CURRENT_CATALOG':
        return fn('current_database');
      case 'SVFOP_CURRENT_SCHEMA':
        return sconst('public');
      default:
        throw unsupported(String(n.op).replace('SVFOP_', ''));
    }
  }
}
