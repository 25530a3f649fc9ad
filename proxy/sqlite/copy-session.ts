// A COPY of one SQLite session: COPY FROM STDIN's state while its data comes
// in (the rows are inserted as they complete, one INSERT each, converted as
// bound text parameters are), and COPY TO STDOUT's messages.
import { CopyLineError, CopyReader, copyHeader, copyLine, type CopyOptions } from './copy-format.ts';
import { PgError } from './errors.ts';
import type { Statement } from './translate.ts';
import { copyData, copyResponse, COPY_DONE } from './wire.ts';

/** SQLite's savepoint around one COPY (or one statement run as several): a failure takes back that statement only. */
export const STATEMENT_SAVEPOINT = 'cutover_statement';

/** `Insert`: the session's prepared INSERT each row runs. */
export class CopyIn<Insert> {
  readonly reader: CopyReader;
  count = 0;

  constructor(
    readonly table: string,
    readonly columns: string[],
    options: CopyOptions,
    /** A simple query's statements after the COPY, run once it is done; null: the extended protocol's. */
    readonly rest: Statement[] | null,
    readonly insert: Insert,
  ) {
    this.reader = new CopyReader(options, columns);
  }

  /** The error with PostgreSQL's CONTEXT: the line, and the column and value when one was at fault. */
  context(e: unknown, line = this.reader.line, column?: number, value?: string | null): unknown {
    if (!(e instanceof PgError) || e.fields?.where) return e;
    if (e instanceof CopyLineError) line = e.line;
    const at = column === undefined ? '' : `, column ${this.columns[column]}: ${value === null ? 'null input' : `"${clip(value ?? '')}"`}`;
    return new PgError(e.code, e.message, e.detail, e.hint, { ...e.fields, where: `COPY ${this.table}, line ${line}${at}` });
  }
}

const clip = (s: string): string => (s.length > 30 ? s.slice(0, 30) + '...' : s);

/** COPY TO STDOUT's messages for rows whose values are already text (null for NULL), made as they are sent. */
export function* copyOutMessages(columns: string[], rows: Iterable<(string | null)[]>, options: CopyOptions): Generator<Buffer> {
  yield copyResponse('out', columns.length);
  if (options.header) yield copyData(Buffer.from(copyHeader(columns, options), 'utf8'));
  for (const r of rows) yield copyData(Buffer.from(copyLine(r, columns, options), 'utf8'));
  yield COPY_DONE;
}
