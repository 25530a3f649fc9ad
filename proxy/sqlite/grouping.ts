// PostgreSQL's rule for grouped queries: a column read outside an aggregate
// must be grouped, or belong to a table whose primary key is (functional
// dependency); else 42803. SQLite runs such a query and returns a value from
// an arbitrary row of each group, which the application would then rely on
// and lose at cutover.
//
// The translator reads the parse tree (groupingChecks): which plain column
// references a grouped SELECT reads outside aggregates and GROUP BY
// expressions, and what it groups by. The session resolves them against the
// file's tables (ungroupedColumn), where it knows columns and primary keys.
// Only what is certain is refused: a reference that cannot be tied to one
// table of the query (a subquery in FROM, a CTE, a USING column, a `*`), or a
// column under a GROUP BY expression (lower(name)), is let through.

type AnyNode = Record<string, any>;

export interface ColumnRefName {
  qualifier?: string;
  column: string;
}

/** One grouped SELECT's references, for the session (see the top of the file). */
export interface GroupingCheck {
  /** FROM tables of the file, by name and alias. */
  from: { name: string; alias?: string }[];
  /** Aliases (or names) of FROM items whose columns are unknown here: subqueries, functions, CTEs. */
  opaque: string[];
  /** Unqualified names that may be a column of an opaque item or a merged USING/NATURAL column. */
  anyUnqualified: boolean;
  using: string[];
  /** GROUP BY's plain column references. */
  grouped: ColumnRefName[];
  /** Column names under GROUP BY expressions that are not plain columns. */
  loose: string[];
  /** Plain column references read outside aggregates and grouped expressions, in PostgreSQL's order. */
  refs: ColumnRefName[];
}

const AGGREGATES = new Set([
  'count', 'sum', 'avg', 'min', 'max', 'string_agg', 'group_concat', 'array_agg', 'json_agg', 'jsonb_agg',
  'json_object_agg', 'jsonb_object_agg', 'bool_and', 'bool_or', 'every', 'bit_and', 'bit_or', 'bit_xor',
  'stddev', 'stddev_pop', 'stddev_samp', 'variance', 'var_pop', 'var_samp', 'xmlagg',
]);

const str = (n: AnyNode | undefined): string => n?.String?.sval ?? '';

function isAggregate(f: AnyNode): boolean {
  if (f.over) return false;
  const names: AnyNode[] = f.funcname ?? [];
  return AGGREGATES.has(str(names[names.length - 1]).toLowerCase()) || Boolean(f.agg_star || f.agg_distinct || f.agg_filter || f.agg_order);
}

function plainRef(n: AnyNode | undefined): ColumnRefName | null {
  const f: AnyNode[] | undefined = n?.ColumnRef?.fields;
  if (!f || f.some((x) => !x.String)) return null;
  if (f.length === 1) return { column: str(f[0]) };
  if (f.length === 2) return { qualifier: str(f[0]), column: str(f[1]) };
  return null;
}

/** Whether an aggregate of this query level is under the node (subqueries are other levels). */
export function hasAggregate(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(hasAggregate);
  if (!v || typeof v !== 'object') return false;
  const o = v as AnyNode;
  if (o.SubLink) return false;
  if (o.FuncCall && isAggregate(o.FuncCall)) return true;
  return Object.values(o).some(hasAggregate);
}

/** The node as text without source positions, for comparing expressions. */
const shape = (n: unknown): string => JSON.stringify(n, (k, v) => (k === 'location' ? undefined : v));

function columnNames(v: unknown, out: string[]): void {
  if (Array.isArray(v)) return v.forEach((x) => columnNames(x, out));
  if (!v || typeof v !== 'object') return;
  const r = plainRef(v as AnyNode);
  if (r) out.push(r.column);
  for (const x of Object.values(v as AnyNode)) columnNames(x, out);
}

/** The checks of a SELECT (each branch of a UNION …): none when no branch is grouped. */
export function groupingChecks(sel: AnyNode | undefined): GroupingCheck[] {
  if (!sel) return [];
  if (sel.op && sel.op !== 'SETOP_NONE') return [...groupingChecks(sel.larg), ...groupingChecks(sel.rarg)];
  const c = groupingCheck(sel);
  return c ? [c] : [];
}

function groupingCheck(sel: AnyNode): GroupingCheck | null {
  const targets: AnyNode[] = (sel.targetList ?? []).map((t: AnyNode) => t.ResTarget).filter(Boolean);
  const grouped = Boolean(sel.groupClause?.length || sel.havingClause) || hasAggregate(targets.map((t) => t.val));
  if (!grouped) return null;
  const check: GroupingCheck = { from: [], opaque: [], anyUnqualified: false, using: [], grouped: [], loose: [], refs: [] };
  const ctes = new Set<string>((sel.withClause?.ctes ?? []).map((c: AnyNode) => c.CommonTableExpr?.ctename));
  const fromItem = (f: AnyNode): void => {
    if (f.RangeVar) {
      const r = f.RangeVar;
      if (ctes.has(r.relname) && !r.schemaname) {
        check.opaque.push(r.alias?.aliasname ?? r.relname);
        check.anyUnqualified = true;
      } else check.from.push({ name: r.relname, ...(r.alias?.aliasname ? { alias: r.alias.aliasname } : {}) });
    } else if (f.JoinExpr) {
      const j = f.JoinExpr;
      fromItem(j.larg);
      fromItem(j.rarg);
      if (j.isNatural || j.alias) check.anyUnqualified = true;
      if (j.alias) check.opaque.push(j.alias.aliasname);
      for (const u of j.usingClause ?? []) check.using.push(str(u));
    } else {
      const alias = Object.values(f)[0]?.alias?.aliasname;
      if (alias) check.opaque.push(alias);
      check.anyUnqualified = true;
    }
  };
  for (const f of sel.fromClause ?? []) fromItem(f);

  const outputNames = new Set(targets.map((t) => t.name ?? plainRef(t.val)?.column).filter(Boolean));
  const groupExprs = new Set<string>();
  const group = (e: AnyNode | undefined): void => {
    if (!e) return;
    const r = plainRef(e);
    if (r) check.grouped.push(r);
    else {
      groupExprs.add(shape(e));
      columnNames(e, check.loose);
    }
  };
  for (const g of sel.groupClause ?? []) {
    const pos = g.A_Const?.ival;
    if (pos) {
      group(targets[(pos.ival ?? 0) - 1]?.val);
      continue;
    }
    group(g);
    // GROUP BY a name that is also an output column's: taken as both, the input column and that expression
    const r = plainRef(g);
    if (r && !r.qualifier) for (const t of targets) if (t.name === r.column) group(t.val);
  }

  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!v || typeof v !== 'object') return;
    const o = v as AnyNode;
    if (groupExprs.size && groupExprs.has(shape(o))) return;
    if (o.SubLink) return;
    if (o.FuncCall && isAggregate(o.FuncCall)) return;
    const r = plainRef(o);
    if (r) {
      check.refs.push(r);
      return;
    }
    for (const x of Object.values(o)) visit(x);
  };
  // PostgreSQL's order: the target list, then ORDER BY (its hidden targets), then HAVING
  for (const t of targets) visit(t.val);
  for (const s of sel.sortClause ?? []) {
    const node = s.SortBy?.node;
    if (node?.A_Const) continue;
    const r = plainRef(node);
    if (r && !r.qualifier && outputNames.has(r.column)) continue; // an output column
    visit(node);
  }
  visit(sel.havingClause);
  return check.refs.length ? check : null;
}

/** A table's columns as the session reads them (PRAGMA table_info): name and place in the primary key (0: none). */
export type ColumnsOf = (table: string) => { name: string; pk: number }[];

/**
 * The first reference PostgreSQL refuses, as its message names it
 * (`t.name`), or null. Each table is read once through `columnsOf`.
 */
export function ungroupedColumn(check: GroupingCheck, columnsOf: ColumnsOf): string | null {
  const lower = (s: string) => s.toLowerCase();
  const cols = check.from.map((f) => columnsOf(f.name));
  const has = (i: number, column: string) => cols[i]!.some((c) => lower(c.name) === lower(column));
  /** The FROM table a reference reads, by index; -1 when not certain. */
  const resolve = (r: ColumnRefName): number => {
    if (r.qualifier) {
      if (check.opaque.includes(r.qualifier)) return -1;
      const i = check.from.findIndex((f) => (f.alias ?? f.name) === r.qualifier);
      return i >= 0 && has(i, r.column) ? i : -1;
    }
    if (check.anyUnqualified || check.using.includes(r.column)) return -1;
    const found = check.from.map((_f, i) => i).filter((i) => has(i, r.column));
    return found.length === 1 ? found[0]! : -1;
  };
  const grouped = check.grouped.map((g) => ({ column: lower(g.column), at: resolve(g) }));
  /** Whether column c of table i is grouped; an unresolved GROUP BY column of that name counts. */
  const isGrouped = (i: number, c: string) => grouped.some((g) => g.column === lower(c) && (g.at === i || g.at === -1));
  for (const r of check.refs) {
    if (check.loose.some((n) => lower(n) === lower(r.column))) continue;
    const i = resolve(r);
    if (i < 0 || isGrouped(i, r.column)) continue;
    const pk = cols[i]!.filter((c) => c.pk > 0);
    if (pk.length && pk.every((c) => isGrouped(i, c.name))) continue;
    const f = check.from[i]!;
    return `${f.alias ?? f.name}.${r.column}`;
  }
  return null;
}
