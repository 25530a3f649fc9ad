// SELECTs over pg_catalog (psql's \d, \dt, \l, \du … and tools like it),
// rewritten for the catalog the session attaches (catalog-tables.ts). A
// dialect of its own: these read only the proxy's catalog, so PostgreSQL's
// catalog idioms are taken more freely than in application SQL
// (translate.ts): ::regclass and other reg* casts, OPERATOR(pg_catalog.~) and
// the other regular-expression operators, COLLATE pg_catalog.default, arrays
// in their text form ({a,b}), unnest and pg_partition_ancestors in FROM.
// Everything else is as translate.ts would print it.
import { SQLITE_TYPE, deparseForSqlite } from './deparse-sqlite.ts';
import { CATALOG_RELATIONS } from './catalog-tables.ts';
import { unsupported } from './errors.ts';
import { targetHints, targetNames, targetParams } from './hints.ts';
import { SERIES_FUNCTION } from './checks.ts';
import type { SqlStatement } from './translate.ts';
import { NodeRewriter } from './node-rewriter.ts';

type AnyNode = Record<string, any>;

/** The relations drivers read on connect, which the general translator has always answered. */
const DRIVER_RELATIONS: ReadonlySet<string> = new Set(['pg_type', 'pg_namespace']);

const str = (n: AnyNode | undefined): string => n?.String?.sval ?? '';
const lastName = (names: AnyNode[] | undefined): string => str(names?.[names.length - 1]).toLowerCase();
const fn = (name: string, ...args: AnyNode[]): AnyNode => ({ FuncCall: { funcname: [{ String: { sval: name } }], args, funcformat: 'COERCE_EXPLICIT_CALL' } });
const sconst = (s: string): AnyNode => ({ A_Const: { sval: { sval: s } } });
const iconst = (i: number): AnyNode => ({ A_Const: { ival: i ? { ival: i } : {} } });
const columnRef = (...names: string[]): AnyNode => ({ ColumnRef: { fields: names.map((sval) => ({ String: { sval } })) } });
const sqliteCast = (arg: AnyNode, to: string): AnyNode => ({ TypeCast: { arg, typeName: { names: [{ String: { sval: to } }], [SQLITE_TYPE]: to } } });
const not = (arg: AnyNode): AnyNode => ({ BoolExpr: { boolop: 'NOT_EXPR', args: [arg] } });
const select = (targets: [string | null, AnyNode][], from: AnyNode[] = [], where?: AnyNode): AnyNode => ({
  SelectStmt: {
    targetList: targets.map(([name, val]) => ({ ResTarget: { ...(name ? { name } : {}), val } })),
    ...(from.length ? { fromClause: from } : {}),
    ...(where ? { whereClause: where } : {}),
    limitOption: 'LIMIT_OPTION_DEFAULT',
    op: 'SETOP_NONE',
  },
});
const scalar = (sel: AnyNode): AnyNode => ({ SubLink: { subLinkType: 'EXPR_SUBLINK', subselect: sel } });
const eq = (l: AnyNode, r: AnyNode): AnyNode => ({ A_Expr: { kind: 'AEXPR_OP', name: [{ String: { sval: '=' } }], lexpr: l, rexpr: r } });
const catalogTable = (name: string, alias: string): AnyNode => ({ RangeVar: { schemaname: 'pg_catalog', relname: name, inh: true, relpersistence: 'p', alias: { aliasname: alias } } });

/** Functions only catalog queries call (catalog-functions.ts): no application statement could use them before. */
const CATALOG_FUNCTIONS: ReadonlySet<string> = new Set([
  'pg_get_viewdef', 'pg_get_indexdef', 'pg_get_constraintdef', 'pg_get_triggerdef', 'pg_get_ruledef', 'pg_get_expr', 'pg_get_userbyid',
  'format_type', 'pg_table_is_visible', 'obj_description', 'col_description', 'pg_table_size', 'pg_relation_size', 'pg_total_relation_size',
]);

/** PostgreSQL's OIDs of its catalogs, for 'pg_catalog.pg_class'::regclass (pg_depend.classid and the like). */
const CATALOG_OIDS: Record<string, number> = {
  pg_class: 1259, pg_type: 1247, pg_proc: 1255, pg_attribute: 1249, pg_namespace: 2615, pg_constraint: 2606, pg_index: 2610, pg_trigger: 2620,
  pg_attrdef: 2604, pg_rewrite: 2618, pg_database: 1262, pg_authid: 1260,
};

/** Catalog relations a statement reads (qualified with pg_catalog or not). */
export function catalogRelations(tree: unknown): Set<string> {
  const out = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== 'object') return;
    const rv = (v as AnyNode).RangeVar;
    if (rv && CATALOG_RELATIONS.has(String(rv.relname)) && (!rv.schemaname || rv.schemaname === 'pg_catalog')) out.add(rv.relname);
    // psql asks some things of functions alone: SELECT pg_catalog.pg_get_viewdef('16418'::pg_catalog.oid, true)
    const call = (v as AnyNode).FuncCall;
    if (call && CATALOG_FUNCTIONS.has(lastName(call.funcname))) out.add(`${lastName(call.funcname)}()`);
    for (const x of Object.values(v)) visit(x);
  };
  visit(tree);
  return out;
}

/** Whether a SELECT reading `relations` is the catalog dialect's outright, not only when the general translator refuses it. */
export const onlyCatalog = (relations: Set<string>): boolean => [...relations].some((r) => !DRIVER_RELATIONS.has(r));

/** A catalog SELECT as the statement the session runs: it refreshes the catalog first (SqlStatement.catalog). */
export function catalogStatement(stmt: AnyNode): SqlStatement {
  const n = stmt.SelectStmt as AnyNode;
  if (n.intoClause) throw unsupported('SELECT INTO');
  let first = n;
  while (first.op && first.op !== 'SETOP_NONE' && first.larg) first = first.larg;
  const hints = targetHints(first.targetList);
  const names = targetNames(first.targetList);
  const paramTargets = targetParams(first.targetList);
  const ctx = new CatalogCtx();
  const out = ctx.walk(stmt) as AnyNode;
  return {
    kind: 'sql', sql: deparseForSqlite(out), tag: 'SELECT', params: ctx.maxParam, paramTypes: new Map(), paramColumns: [], tables: [],
    hints, columnHints: [], paramTargets, names, locking: false, countsChanges: false, literals: [], grouping: [], columnTypes: [], catalog: true,
  };
}

const REGEX: Record<string, { flags: string; negated: boolean }> = {
  '~': { flags: '', negated: false }, '~*': { flags: 'i', negated: false }, '!~': { flags: '', negated: true }, '!~*': { flags: 'i', negated: true },
};
const INT_TYPES = new Set(['oid', 'int2', 'int4', 'int8', 'integer', 'bigint', 'smallint', 'xid', 'cid', 'regproc', 'regprocedure', 'regoper']);
const TEXT_TYPES = new Set(['text', 'name', 'varchar', 'bpchar', 'char', 'character varying', 'unknown']);

class CatalogCtx extends NodeRewriter {
  maxParam = 0;
  private aliases = 0;

  protected node(type: string, n: AnyNode, self: AnyNode): AnyNode {
    switch (type) {
      case 'ParamRef':
        this.maxParam = Math.max(this.maxParam, n.number);
        return self;
      case 'RangeVar':
        if (n.schemaname === 'public' || n.schemaname === 'main') delete n.schemaname;
        else if (n.schemaname && n.schemaname !== 'pg_catalog') throw unsupported(`schema "${n.schemaname}"`);
        // pg_catalog comes first on PostgreSQL's search path: an unqualified pg_class is the catalog's
        if (!n.schemaname && CATALOG_RELATIONS.has(n.relname)) n.schemaname = 'pg_catalog';
        if (n.alias?.colnames?.length) throw unsupported('column alias lists on a table alias (t(a, b))');
        n.inh = true;
        return self;
      case 'FuncCall':
        return this.func(n, self);
      case 'TypeCast':
        return this.cast(n, self);
      case 'A_Expr':
        return this.expr(n, self);
      case 'CollateClause':
        // SQLite compares text by its bytes, PostgreSQL's "C": the default collation of this catalog
        return n.arg;
      case 'SubLink':
        return this.subLink(n, self);
      case 'A_ArrayExpr':
        return fn('cutover_array', ...(n.elements ?? []));
      case 'A_Indirection': {
        const ind: AnyNode[] = n.indirection ?? [];
        const at = ind.length === 1 ? ind[0]!.A_Indices : null;
        if (!at || at.is_slice) throw unsupported('this array subscript');
        return fn('cutover_array_at', n.arg, at.uidx);
      }
      case 'RangeFunction':
        return this.rangeFunction(n, self);
      case 'SQLValueFunction':
        if (['SVFOP_CURRENT_ROLE', 'SVFOP_CURRENT_USER', 'SVFOP_USER', 'SVFOP_SESSION_USER'].includes(n.op)) return fn('cutover_user');
        if (n.op === 'SVFOP_CURRENT_CATALOG') return fn('current_database');
        if (n.op === 'SVFOP_CURRENT_SCHEMA') return sconst('public');
        throw unsupported(String(n.op).replace('SVFOP_', ''));
      case 'SortBy':
        // PostgreSQL sorts NULLs last ascending, first descending; SQLite the other way round
        if (n.sortby_nulls === 'SORTBY_NULLS_DEFAULT' && n.sortby_dir !== 'SORTBY_USING') n.sortby_nulls = n.sortby_dir === 'SORTBY_DESC' ? 'SORTBY_NULLS_FIRST' : 'SORTBY_NULLS_LAST';
        return self;
      case 'SelectStmt':
        if (n.distinctClause?.some((d: AnyNode) => Object.keys(d).length > 0)) throw unsupported('DISTINCT ON');
        delete n.lockingClause;
        if (n.limitOffset && !n.limitCount) n.limitCount = iconst(-1);
        // SQLite's compound SELECT has no brackets: an inner UNION is read from as a subquery
        if (n.op && n.op !== 'SETOP_NONE') {
          for (const side of ['larg', 'rarg'] as const) {
            if (n[side]?.op && n[side].op !== 'SETOP_NONE') n[side] = select([[null, { ColumnRef: { fields: [{ A_Star: {} }] } }]], [{ RangeSubselect: { subquery: { SelectStmt: n[side] }, alias: { aliasname: this.alias() } } }]).SelectStmt;
          }
        }
        return self;
      case 'RangeSubselect':
        if (n.lateral) throw unsupported('LATERAL');
        if (n.alias?.colnames?.length) throw unsupported('column alias lists on a subquery alias');
        return self;
      case 'RowExpr':
        throw unsupported('row constructors');
      case 'MinMaxExpr':
        return fn(n.op === 'IS_GREATEST' ? 'cutover_greatest' : 'cutover_least', ...(n.args ?? []));
      default:
        return self;
    }
  }

  private func(n: AnyNode, self: AnyNode): AnyNode {
    const names: AnyNode[] = n.funcname ?? [];
    if (names.length > 1 && str(names[0]) !== 'pg_catalog') throw unsupported(`function ${names.map(str).join('.')}()`);
    let name = lastName(names);
    if (name === 'string_agg') name = 'group_concat';
    if (name === 'array_agg') name = 'cutover_array_agg';
    if (name === 'unnest' || name === 'generate_series') throw unsupported(`${name}() outside FROM in a catalog query`);
    n.funcname = [{ String: { sval: name } }];
    n.funcformat = 'COERCE_EXPLICIT_CALL';
    return self;
  }

  /** reg* casts read or print a name (a regclass prints as the relation's name); others as SQLite's CAST, or dropped. */
  private cast(n: AnyNode, self: AnyNode): AnyNode {
    const tn = n.typeName as AnyNode;
    if (tn[SQLITE_TYPE]) return self;
    const arg = n.arg as AnyNode;
    if (tn.arrayBounds) return arg;
    const type = lastName(tn.names);
    const text: string | undefined = arg.A_Const?.sval?.sval;
    const byName = (table: string, key: string, alias: string) =>
      scalar(select([[null, columnRef(alias, 'oid')]], [catalogTable(table, alias)], eq(columnRef(alias, key), sconst(text!.replace(/^(public|pg_catalog)\./, '').replace(/^"(.*)"$/, '$1')))));
    switch (type) {
      case 'regclass':
        if (arg.A_Const?.ival || (text !== undefined && /^\d+$/.test(text))) return sqliteCast(arg, 'INTEGER');
        if (text !== undefined && CATALOG_OIDS[text.replace(/^pg_catalog\./, '')]) return iconst(CATALOG_OIDS[text.replace(/^pg_catalog\./, '')]!);
        if (text !== undefined) return byName('pg_class', 'relname', this.alias());
        return this.nameOf('pg_class', 'relname', arg, true);
      case 'regnamespace':
        if (text !== undefined) return /^\d+$/.test(text) ? sqliteCast(arg, 'INTEGER') : byName('pg_namespace', 'nspname', this.alias());
        return this.nameOf('pg_namespace', 'nspname', arg, false);
      case 'regtype':
        if (text !== undefined) return /^\d+$/.test(text) ? sqliteCast(arg, 'INTEGER') : byName('pg_type', 'typname', this.alias());
        return fn('format_type', arg, { A_Const: { isnull: true } });
      case 'regrole':
        return text !== undefined ? sqliteCast(arg, 'INTEGER') : fn('pg_get_userbyid', arg);
      case 'bool':
      case 'boolean':
        if (text !== undefined) return iconst(/^(t|true|y|yes|on|1)$/i.test(text.trim()) ? 1 : 0);
        return arg;
      default:
        if (INT_TYPES.has(type)) return sqliteCast(arg, 'INTEGER');
        if (TEXT_TYPES.has(type)) return text !== undefined ? arg : sqliteCast(arg, 'TEXT');
        return arg;
    }
  }

  private alias(): string {
    return `cutover_c${++this.aliases}`;
  }

  /** A reg* value printed: the name of the row whose oid it is. */
  private nameOf(table: string, column: string, oid: AnyNode, quoted: boolean): AnyNode {
    const a = this.alias();
    const name = columnRef(a, column);
    return scalar(select([[null, quoted ? fn('quote_ident', name) : name]], [catalogTable(table, a)], eq(columnRef(a, 'oid'), oid)));
  }

  private expr(n: AnyNode, self: AnyNode): AnyNode {
    const op = lastName(n.name);
    switch (n.kind) {
      case 'AEXPR_OP': {
        const re = REGEX[op];
        if (re) {
          const call = fn('cutover_regex', n.lexpr, n.rexpr, sconst(re.flags));
          return re.negated ? not(call) : call;
        }
        // OPERATOR(pg_catalog.=) is =
        n.name = [{ String: { sval: op } }];
        return self;
      }
      case 'AEXPR_OP_ANY':
      case 'AEXPR_OP_ALL': {
        const any = n.kind === 'AEXPR_OP_ANY';
        if (any && op === '=') return fn('cutover_in_array', n.lexpr, n.rexpr);
        if (!any && (op === '<>' || op === '!=')) return not(fn('cutover_in_array', n.lexpr, n.rexpr));
        throw unsupported(`${op} ${any ? 'ANY' : 'ALL'} (array) in a catalog query`);
      }
      case 'AEXPR_DISTINCT':
        return { A_Expr: { ...n, kind: 'AEXPR_OP', name: [{ String: { sval: 'IS NOT' } }] } };
      case 'AEXPR_NOT_DISTINCT':
        return { A_Expr: { ...n, kind: 'AEXPR_OP', name: [{ String: { sval: 'IS' } }] } };
      case 'AEXPR_ILIKE':
        return { A_Expr: { ...n, kind: 'AEXPR_LIKE', name: [{ String: { sval: op.startsWith('!') ? '!~~' : '~~' } }], lexpr: fn('lower', n.lexpr), rexpr: fn('lower', n.rexpr) } };
      case 'AEXPR_SIMILAR':
        throw unsupported('SIMILAR TO');
      default:
        return self;
    }
  }

  private subLink(n: AnyNode, self: AnyNode): AnyNode {
    if (n.subLinkType === 'ANY_SUBLINK' && n.operName) {
      if (lastName(n.operName) !== '=') throw unsupported('op ANY (subquery) other than = ANY');
      delete n.operName;
      return self;
    }
    if (n.subLinkType === 'ARRAY_SUBLINK') {
      // ARRAY(SELECT x …): the rows' values in an array's text form, in the subquery's order
      const sub = n.subselect.SelectStmt as AnyNode;
      const target = sub.targetList?.[0]?.ResTarget;
      if (!target || sub.targetList.length !== 1) throw unsupported('ARRAY(subquery) of several columns');
      target.name = 'cutover_elem';
      const a = this.alias();
      return scalar(select([[null, fn('cutover_array_agg', columnRef(a, 'cutover_elem'))]], [{ RangeSubselect: { subquery: n.subselect, alias: { aliasname: a } } }]));
    }
    if (!['EXISTS_SUBLINK', 'EXPR_SUBLINK', 'ANY_SUBLINK'].includes(n.subLinkType)) throw unsupported(`${String(n.subLinkType).replace('_SUBLINK', '')} subqueries`);
    return self;
  }

  /** generate_series, unnest and pg_partition_ancestors in FROM, as subqueries naming their columns as PostgreSQL does. */
  private rangeFunction(n: AnyNode, self: AnyNode): AnyNode {
    const calls = (n.functions as AnyNode[] | undefined) ?? [];
    const call = calls.length === 1 ? (calls[0]!.List?.items?.[0]?.FuncCall as AnyNode | undefined) : undefined;
    const name = lastName(call?.funcname);
    if (name.startsWith('cutover_')) return self; // put here below
    const args: AnyNode[] = call?.args ?? [];
    const alias: string = n.alias?.aliasname ?? name;
    const cols: string[] = (n.alias?.colnames ?? []).map((c: AnyNode) => str(c));
    const col = cols[0] ?? alias;
    const ordinality = (): [string, AnyNode][] => (n.ordinality ? [[cols[1] ?? 'ordinality', iconst(1)]] : []);
    const sub = (sel: AnyNode): AnyNode => ({ RangeSubselect: { subquery: sel, alias: { aliasname: alias } } });
    const table = (f: string, ...a: AnyNode[]): AnyNode => ({ RangeFunction: { functions: [{ List: { items: [fn(f, ...a), {}] } }] } });
    if (name === 'generate_series' && (args.length === 2 || args.length === 3) && !n.ordinality) {
      return sub(select([[col, columnRef('value')]], [table(SERIES_FUNCTION, ...args, ...(args.length === 2 ? [iconst(1)] : []))]));
    }
    if (name === 'unnest' && args.length === 1 && !n.ordinality) return sub(select([[col, columnRef('value')]], [table('cutover_unnest', args[0]!)]));
    // nothing is partitioned: a relation's one ancestor is itself, at depth 1
    if (name === 'pg_partition_ancestors' && args.length === 1) return sub(select([[col, args[0]!], ...ordinality()]));
    throw unsupported(`function ${name || '?'}() in FROM in a catalog query`);
  }
}
