// Result column types PostgreSQL would report for an expression, read off the
// AST before translation (casts, literals, known functions, comparisons).
// Used when SQLite has no declared type for a result column.
import { OID } from './types.ts';

type AnyNode = Record<string, any>;

/** PostgreSQL type name (last part of a TypeName) → OID. */
export const TYPE_OIDS: Record<string, number> = {
  int2: OID.int2, smallint: OID.int2, int4: OID.int4, int: OID.int4, integer: OID.int4, int8: OID.int8, bigint: OID.int8,
  float4: OID.float4, real: OID.float4, float8: OID.float8, 'double precision': OID.float8, numeric: OID.numeric, decimal: OID.numeric,
  text: OID.text, varchar: OID.varchar, bpchar: OID.bpchar, char: OID.bpchar, name: OID.name,
  bytea: OID.bytea, bool: OID.bool, boolean: OID.bool,
  date: OID.date, timestamp: OID.timestamp, timestamptz: OID.timestamptz, time: OID.time,
  uuid: OID.uuid, json: OID.json, jsonb: OID.jsonb,
};

const FUNC_OIDS: Record<string, number> = {
  count: OID.int8, row_number: OID.int8, rank: OID.int8, dense_rank: OID.int8,
  now: OID.timestamptz, transaction_timestamp: OID.timestamptz, statement_timestamp: OID.timestamptz, clock_timestamp: OID.timestamptz,
  lower: OID.text, upper: OID.text, concat: OID.text, concat_ws: OID.text, substr: OID.text, substring: OID.text, replace: OID.text,
  btrim: OID.text, ltrim: OID.text, rtrim: OID.text, string_agg: OID.text, version: OID.text, current_setting: OID.text, set_config: OID.text,
  length: OID.int4, char_length: OID.int4, character_length: OID.int4, octet_length: OID.int4, strpos: OID.int4, pg_backend_pid: OID.int4,
  current_database: OID.name, current_schema: OID.name, random: OID.float8, date_part: OID.float8, extract: OID.numeric,
};

const SVF_OIDS: Record<string, number> = {
  SVFOP_CURRENT_DATE: OID.date, SVFOP_CURRENT_TIME: OID.time, SVFOP_CURRENT_TIME_N: OID.time,
  SVFOP_CURRENT_TIMESTAMP: OID.timestamptz, SVFOP_CURRENT_TIMESTAMP_N: OID.timestamptz,
  SVFOP_LOCALTIME: OID.time, SVFOP_LOCALTIME_N: OID.time, SVFOP_LOCALTIMESTAMP: OID.timestamp, SVFOP_LOCALTIMESTAMP_N: OID.timestamp,
  SVFOP_CURRENT_ROLE: OID.name, SVFOP_CURRENT_USER: OID.name, SVFOP_USER: OID.name, SVFOP_SESSION_USER: OID.name,
  SVFOP_CURRENT_CATALOG: OID.name, SVFOP_CURRENT_SCHEMA: OID.name,
};

const COMPARISONS = new Set(['=', '<>', '!=', '<', '>', '<=', '>=']);
const INTS: number[] = [OID.int2, OID.int4, OID.int8];

export function typeNameOid(typeName: AnyNode): number | undefined {
  const names: AnyNode[] = typeName.names ?? [];
  const last = names[names.length - 1]?.String?.sval as string | undefined;
  return last ? TYPE_OIDS[last.toLowerCase()] : undefined;
}

function arithmetic(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (INTS.includes(a) && INTS.includes(b)) return Math.max(INTS.indexOf(a), INTS.indexOf(b)) === 2 ? OID.int8 : a === OID.int2 && b === OID.int2 ? OID.int2 : OID.int4;
  if (a === OID.float8 || b === OID.float8 || a === OID.float4 || b === OID.float4) return OID.float8;
  if (a === OID.numeric || b === OID.numeric) return OID.numeric;
  return undefined;
}

/** The OID PostgreSQL would give this expression, when it is evident. */
export function hintOf(node: AnyNode | undefined): number | undefined {
  if (!node) return undefined;
  const [type, n] = Object.entries(node)[0] as [string, AnyNode];
  switch (type) {
    case 'TypeCast':
      return typeNameOid(n.typeName);
    case 'A_Const':
      if (n.isnull) return undefined;
      if (n.ival !== undefined) return OID.int4;
      if (n.fval !== undefined) return /^[+-]?\d+$/.test(n.fval.fval ?? '') ? OID.int8 : OID.numeric;
      if (n.boolval !== undefined) return OID.bool;
      if (n.sval !== undefined) return OID.text;
      return undefined;
    case 'FuncCall': {
      const names: AnyNode[] = n.funcname ?? [];
      const name = (names[names.length - 1]?.String?.sval ?? '').toLowerCase();
      if ((name === 'sum' || name === 'min' || name === 'max') && n.args?.[0]) {
        const h = hintOf(n.args[0]);
        return name === 'sum' && h !== undefined && INTS.includes(h) ? OID.int8 : h;
      }
      if (name === 'coalesce') return hintOf(n.args?.[0]);
      if (name === 'date_trunc') {
        // a timestamp's is a timestamp, any other's a timestamptz; a column's follows its declared type (ColumnHint)
        const h = hintOf(n.args?.[1]);
        return h === OID.timestamp ? h : n.args?.[1]?.ColumnRef ? undefined : OID.timestamptz;
      }
      if (name === 'generate_series') {
        // the arguments' common type; a parameter or integer literal is int4, as PostgreSQL resolves them
        const hs = ((n.args as AnyNode[] | undefined) ?? []).map((a) => hintOf(a) ?? OID.int4);
        return hs.some((h) => !INTS.includes(h)) ? OID.numeric : hs.includes(OID.int8) ? OID.int8 : OID.int4;
      }
      return FUNC_OIDS[name];
    }
    case 'SQLValueFunction':
      return SVF_OIDS[n.op];
    case 'A_Expr': {
      const op = n.name?.[0]?.String?.sval as string | undefined;
      // NULLIF of a column: its declared type decides (columnHint)
      if (n.kind !== 'AEXPR_OP') return n.kind === 'AEXPR_NULLIF' ? (n.lexpr?.ColumnRef ? undefined : hintOf(n.lexpr)) : OID.bool;
      if (op && COMPARISONS.has(op)) return OID.bool;
      if (op === '||') return OID.text;
      if (op === '-' && !n.lexpr) return hintOf(n.rexpr);
      if (op && '+-*/%'.includes(op)) {
        const [l, r] = [hintOf(n.lexpr), hintOf(n.rexpr)];
        // date ± integer is a date, date − date an int4 (translate.ts, dateArith)
        if (l === OID.date && r === OID.date) return op === '-' ? OID.int4 : undefined;
        // minus a column of unknown type: days if it is a date, a date if an integer (typed by the values)
        if ((op === '+' || op === '-') && l === OID.date && ((op === '+' && r === undefined) || (r !== undefined && INTS.includes(r)))) return OID.date;
        if (op === '+' && r === OID.date && (l === undefined || INTS.includes(l))) return OID.date;
        return arithmetic(l, r);
      }
      return undefined;
    }
    case 'BoolExpr':
    case 'NullTest':
    case 'BooleanTest':
      return OID.bool;
    case 'SubLink':
      return n.subLinkType === 'EXPR_SUBLINK' ? hintOf(n.subselect?.SelectStmt?.targetList?.[0]?.ResTarget?.val) : OID.bool;
    case 'MinMaxExpr':
      // with a column among the values, its declared type decides (columnHint)
      return (n.args as AnyNode[] | undefined)?.some((a) => a.ColumnRef) ? undefined : firstHint(n.args);
    case 'CoalesceExpr':
      return (n.args as AnyNode[] | undefined)?.some((a) => a.ColumnRef) ? undefined : firstHint(n.args);
    case 'CaseExpr':
      if (caseResults(n).some((r) => r?.ColumnRef)) return undefined;
      for (const w of n.args ?? []) {
        const h = hintOf(w.CaseWhen?.result);
        if (h !== undefined) return h;
      }
      return hintOf(n.defresult);
    default:
      return undefined;
  }
}

/** A CASE's result values, its ELSE last. */
const caseResults = (n: AnyNode): (AnyNode | undefined)[] => [...((n.args as AnyNode[] | undefined) ?? []).map((w) => w.CaseWhen?.result as AnyNode | undefined), n.defresult];

function firstHint(args: AnyNode[] | undefined): number | undefined {
  for (const a of args ?? []) {
    const h = hintOf(a);
    if (h !== undefined) return h;
  }
  return undefined;
}

/** A target list's entries (ResTarget bodies, each with a value); null when it has a `*` (positions unknown). */
function entries(targets: AnyNode[] | undefined): AnyNode[] | null {
  const out: AnyNode[] = [];
  for (const t of targets ?? []) {
    const r = t.ResTarget;
    if (!r?.val || r.val.A_Star || r.val.ColumnRef?.fields?.some((f: AnyNode) => f.A_Star)) return null;
    out.push(r);
  }
  return out;
}

/** Hints for a target list, position by position; none when it has a `*` (positions unknown). */
export const targetHints = (targets: AnyNode[] | undefined): (number | undefined)[] => entries(targets)?.map((r) => hintOf(r.val)) ?? [];

/**
 * The parameter a result column is, bare (`SELECT $1`, `RETURNING $2`), by
 * position: PostgreSQL gives it the parameter's type, which the client may
 * have declared (postgres.js a Date as timestamptz, a boolean as bool).
 */
export const targetParams = (targets: AnyNode[] | undefined): (number | undefined)[] =>
  entries(targets)?.map((r) => (r.val.ParamRef?.number as number | undefined)) ?? [];

/** The types the engine reads and writes as PostgreSQL does (TYPE_OIDS): a parameter declared one of them types its column. */
export const SCALAR_OIDS: ReadonlySet<number> = new Set(Object.values(TYPE_OIDS));

/**
 * A result column whose type is that of a table column, or follows from it:
 * min(c), max(c) (c's type), sum(c) and avg(c) (PostgreSQL's result types
 * for c's). SQLite reports no declared type for an aggregate, and its values
 * alone misled: max(ts) came out text, sum(numeric) a float8 (a JavaScript
 * number in node-postgres where PostgreSQL gives a string).
 */
export interface ColumnHint {
  /**
   * 'extreme': GREATEST/LEAST, whose first column value gives the type; 'value': COALESCE, NULLIF, CASE
   * of a column, which keep its type and, mostly giving its values, a numeric's scale; 'date_trunc': a timestamp's or a timestamptz. */
  fn: 'min' | 'max' | 'sum' | 'avg' | 'extreme' | 'value' | 'date_trunc';
  qualifier?: string;
  column: string;
}

const COLUMN_AGGREGATES = new Set(['min', 'max', 'sum', 'avg']);

/** Column hints for a target list, position by position (see ColumnHint); none when it has a `*`. */
export const targetColumnHints = (targets: AnyNode[] | undefined): (ColumnHint | undefined)[] => entries(targets)?.map((r) => columnHintOf(r.val)) ?? [];

/** The ColumnHint of an expression: an aggregate, GREATEST/LEAST or date_trunc of a column. */
export function columnHintOf(val: AnyNode): ColumnHint | undefined {
  if (val.MinMaxExpr) return ofColumn('extreme', (val.MinMaxExpr.args as AnyNode[] | undefined)?.find((a) => a.ColumnRef)?.ColumnRef.fields);
  // COALESCE, NULLIF and CASE of a column keep its type (a constant beside it takes the column's)
  if (val.CoalesceExpr) return ofColumn('value', (val.CoalesceExpr.args as AnyNode[] | undefined)?.find((a) => a.ColumnRef)?.ColumnRef.fields);
  if (val.A_Expr?.kind === 'AEXPR_NULLIF') return ofColumn('value', val.A_Expr.lexpr?.ColumnRef?.fields);
  if (val.CaseExpr) return ofColumn('value', caseResults(val.CaseExpr).find((r) => r?.ColumnRef)?.ColumnRef.fields);
  const f = val.FuncCall;
  const name = String(f?.funcname?.[f.funcname.length - 1]?.String?.sval ?? '').toLowerCase();
  if (name === 'date_trunc' && f.args?.length === 2) return ofColumn('date_trunc', f.args[1].ColumnRef?.fields);
  return COLUMN_AGGREGATES.has(name) && f.args?.length === 1 ? ofColumn(name as ColumnHint['fn'], f.args[0].ColumnRef?.fields) : undefined;
}

/** The hint for a column reference's fields (`c` or `t.c`), nothing for anything else. */
function ofColumn(fn: ColumnHint['fn'], fields: AnyNode[] | undefined): ColumnHint | undefined {
  if (!fields || fields.length > 2 || fields.some((x) => !x.String)) return undefined;
  const names = fields.map((x) => String(x.String.sval));
  return { fn, column: names[names.length - 1]!, ...(names.length === 2 ? { qualifier: names[0] } : {}) };
}

/** The column name PostgreSQL gives an unaliased expression (count(*) → "count", 1 → "?column?"). */
const nameOf = (node: AnyNode | undefined): string => figure(node)[0];

/**
 * PostgreSQL's FigureColname: a name and its strength (2: a column's or a
 * function's, 1: a cast's type, 0: none), so that a cast names its value only
 * when nothing inside it names it better: `(a % 2)::int::boolean` is "bool".
 */
function figure(node: AnyNode | undefined): [string, number] {
  if (!node) return ['?column?', 0];
  const [type, n] = Object.entries(node)[0] as [string, AnyNode];
  switch (type) {
    case 'ColumnRef': {
      const last = n.fields?.[n.fields.length - 1];
      return last?.String?.sval ? [last.String.sval, 2] : ['?column?', 0];
    }
    case 'FuncCall': {
      const names: AnyNode[] = n.funcname ?? [];
      const name = names[names.length - 1]?.String?.sval;
      return name ? [name, 2] : ['?column?', 0];
    }
    case 'TypeCast': {
      const inner = figure(n.arg);
      if (inner[1] >= 2) return inner;
      const names: AnyNode[] = n.typeName?.names ?? [];
      const name = names[names.length - 1]?.String?.sval;
      return name ? [name, 1] : inner;
    }
    case 'A_Expr':
      return n.kind === 'AEXPR_NULLIF' ? ['nullif', 2] : ['?column?', 0];
    case 'SQLValueFunction':
      return [String(n.op).replace(/^SVFOP_/, '').replace(/_N$/, '').toLowerCase(), 2];
    case 'CoalesceExpr':
      return ['coalesce', 2];
    case 'MinMaxExpr':
      return [n.op === 'IS_GREATEST' ? 'greatest' : 'least', 2];
    case 'CaseExpr': {
      // named after its ELSE value when that names itself (CASE … ELSE name END is "name")
      const inner = figure(n.defresult);
      return inner[1] >= 2 ? inner : ['case', 1];
    }
    case 'SubLink':
      return n.subLinkType === 'EXISTS_SUBLINK' ? ['exists', 2] : n.subLinkType === 'EXPR_SUBLINK' ? figure(n.subselect?.SelectStmt?.targetList?.[0]?.ResTarget?.val) : ['?column?', 0];
    default:
      return ['?column?', 0];
  }
}

/** Result column names by position, PostgreSQL's way; none when the list has a `*`. */
export const targetNames = (targets: AnyNode[] | undefined): string[] => entries(targets)?.map((r) => r.name ?? nameOf(r.val)) ?? [];
