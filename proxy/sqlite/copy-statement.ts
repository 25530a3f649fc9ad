// COPY … FROM STDIN and COPY … TO STDOUT, read off PostgreSQL's parse tree:
// which table and columns, or which query, and the options checked as
// PostgreSQL checks them. Files and programs are the server's in PostgreSQL;
// the proxy does not read or run its own, so they are refused.
import { PgError, unsupported } from './errors.ts';
import type { CopyOptions } from './copy-format.ts';

type AnyNode = Record<string, any>;

export interface CopyStatement {
  kind: 'copy';
  from: boolean;
  /** COPY t …: the table; null for COPY (query) TO. */
  table: string | null;
  /** The column list as written; null: every column. */
  columns: string[] | null;
  /** COPY (query) TO: the query's node, translated by the caller. */
  query: AnyNode | null;
  options: CopyOptions;
}

const str = (n: AnyNode | undefined): string => n?.String?.sval ?? '';

/** A DefElem's argument as text (COPY options are words, strings, numbers or booleans). */
function argText(d: AnyNode): string | null {
  const a = d.arg;
  if (a === undefined) return null;
  if (a.String) return a.String.sval ?? '';
  if (a.Boolean) return a.Boolean.boolval ? 'true' : 'false';
  if (a.Integer) return String(a.Integer.ival ?? 0);
  if (a.Float) return a.Float.fval;
  if (a.A_Star) return '*';
  if (a.TypeName) return str(a.TypeName.names?.[a.TypeName.names.length - 1]);
  return null;
}

/** PostgreSQL's boolean option spelling (defGetBoolean). */
function boolOption(d: AnyNode): boolean {
  const v = argText(d);
  if (v === null) return true;
  const s = v.toLowerCase();
  if (['true', 'on', '1'].includes(s)) return true;
  if (['false', 'off', '0'].includes(s)) return false;
  throw new PgError('22023', `${d.defname} requires a Boolean value`);
}

function columnList(d: AnyNode): string[] | '*' {
  if (d.arg?.A_Star) return '*';
  const items: AnyNode[] = d.arg?.List?.items ?? [];
  if (!items.length) throw new PgError('22023', `argument to option "${d.defname}" must be a list of column names`);
  return items.map(str);
}

export function copyStatement(n: AnyNode): CopyStatement {
  if (n.filename !== undefined || n.is_program) {
    throw unsupported('COPY to or from a file or program', "use COPY … FROM STDIN / TO STDOUT (psql's \\copy)");
  }
  if (n.whereClause) throw unsupported('COPY FROM … WHERE');
  const from = Boolean(n.is_from);
  // its schema was checked by the caller, as every statement's table is (translate.ts, rangeVar)
  const rel = n.relation as AnyNode | undefined;
  if (n.query) {
    const type = Object.keys(n.query)[0];
    if (type !== 'SelectStmt') throw unsupported('COPY of a statement other than SELECT');
  }
  return {
    kind: 'copy',
    from,
    table: rel ? rel.relname : null,
    columns: n.attlist?.length ? (n.attlist as AnyNode[]).map(str) : null,
    query: n.query ?? null,
    options: copyOptions(n.options ?? [], from),
  };
}

function copyOptions(defs: AnyNode[], from: boolean): CopyOptions {
  const seen = new Set<string>();
  let format: 'text' | 'csv' = 'text';
  let delimiter: string | undefined;
  let nullText: string | undefined;
  let header: boolean | 'match' = false;
  let quote: string | undefined;
  let escape: string | undefined;
  let forceQuote: string[] | '*' = [];
  let forceNotNull: string[] = [];
  let forceNull: string[] = [];
  for (const e of defs) {
    const d = e.DefElem as AnyNode;
    const name = String(d.defname);
    if (seen.has(name)) throw new PgError('42601', 'conflicting or redundant options');
    seen.add(name);
    const v = argText(d);
    switch (name) {
      case 'format': {
        const f = (v ?? '').toLowerCase();
        if (f === 'binary') throw unsupported('COPY in binary format', 'use FORMAT text or csv');
        if (f !== 'text' && f !== 'csv') throw new PgError('22023', `COPY format "${v}" not recognized`);
        format = f;
        break;
      }
      case 'delimiter':
        delimiter = v ?? '';
        break;
      case 'null':
        nullText = v ?? '';
        break;
      case 'header':
        header = (v ?? '').toLowerCase() === 'match' ? 'match' : boolOption(d);
        if (header === 'match' && !from) throw new PgError('0A000', 'cannot use "match" with HEADER in COPY TO');
        break;
      case 'quote':
        quote = v ?? '';
        break;
      case 'escape':
        escape = v ?? '';
        break;
      case 'force_quote':
        forceQuote = columnList(d);
        break;
      case 'force_not_null':
      case 'force_null': {
        const l = columnList(d);
        if (l === '*') throw new PgError('42601', `argument to option "${name}" must be a list of column names`);
        if (name === 'force_null') forceNull = l;
        else forceNotNull = l;
        break;
      }
      case 'freeze':
        // a hint for PostgreSQL's heap; nothing to do in SQLite
        boolOption(d);
        break;
      case 'encoding': {
        const enc = (v ?? '').toLowerCase().replace(/[-_]/g, '');
        if (enc !== 'utf8' && enc !== 'unicode') throw unsupported(`COPY … ENCODING '${v}'`, 'send UTF8');
        break;
      }
      case 'oids':
        if (boolOption(d)) throw new PgError('0A000', 'COPY with OIDS is not supported');
        break;
      default:
        throw new PgError('42601', `option "${name}" not recognized`);
    }
  }
  const csv = format === 'csv';
  delimiter ??= csv ? ',' : '\t';
  nullText ??= csv ? '' : '\\N';
  // PostgreSQL's checks (ProcessCopyOptions), in its order and words
  if (Buffer.byteLength(delimiter) !== 1) throw new PgError('0A000', 'COPY delimiter must be a single one-byte character');
  if (delimiter === '\r' || delimiter === '\n') throw new PgError('22023', 'COPY delimiter cannot be newline or carriage return');
  if (nullText.includes('\r') || nullText.includes('\n')) throw new PgError('22023', 'COPY null representation cannot use newline or carriage return');
  if (!csv && 'abcdefghijklmnopqrstuvwxyz0123456789.\\'.includes(delimiter.toLowerCase())) {
    throw new PgError('22023', `COPY delimiter cannot be "${delimiter}"`);
  }
  if (!csv && quote !== undefined) throw new PgError('0A000', 'COPY quote available only in CSV mode');
  if (!csv && escape !== undefined) throw new PgError('0A000', 'COPY escape available only in CSV mode');
  quote ??= '"';
  escape ??= quote;
  if (csv && Buffer.byteLength(quote) !== 1) throw new PgError('0A000', 'COPY quote must be a single one-byte character');
  if (csv && Buffer.byteLength(escape) !== 1) throw new PgError('0A000', 'COPY escape must be a single one-byte character');
  if (csv && delimiter === quote) throw new PgError('22023', 'COPY delimiter and quote must be different');
  if (!csv && seen.has('force_quote')) throw new PgError('0A000', 'COPY force quote available only in CSV mode');
  if (from && seen.has('force_quote')) throw new PgError('0A000', 'COPY force quote only available using COPY TO');
  if (!csv && seen.has('force_not_null')) throw new PgError('0A000', 'COPY force not null available only in CSV mode');
  if (!from && seen.has('force_not_null')) throw new PgError('0A000', 'COPY force not null only available using COPY FROM');
  if (!csv && seen.has('force_null')) throw new PgError('0A000', 'COPY force null available only in CSV mode');
  if (!from && seen.has('force_null')) throw new PgError('0A000', 'COPY force null only available using COPY FROM');
  if (nullText.includes(delimiter)) throw new PgError('0A000', 'COPY delimiter must not appear in the NULL specification');
  if (csv && nullText.includes(quote)) throw new PgError('0A000', 'CSV quote character must not appear in the NULL specification');
  return { format, delimiter, null: nullText, header, quote, escape, forceQuote, forceNotNull, forceNull };
}
