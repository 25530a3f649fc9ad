// COPY's text and CSV formats (proxy/sqlite/copy-format.ts): what PostgreSQL
// reads from COPY FROM data, however the client cut it into CopyData messages,
// and what COPY TO writes, read back to the same values.
import { describe, expect, it } from 'vitest';
import { CopyReader, copyLine, type CopyOptions } from '../../proxy/sqlite/copy-format.ts';

const TEXT: CopyOptions = { format: 'text', delimiter: '\t', null: '\\N', header: false, quote: '"', escape: '"', forceQuote: [], forceNotNull: [], forceNull: [] };
const CSV: CopyOptions = { ...TEXT, format: 'csv', delimiter: ',', null: '' };

/** The rows of `data` fed whole, and fed cut at every byte: each cut must read the same. */
function readAllWays(data: Buffer, opts: CopyOptions, columns: string[]): (string | null)[][] {
  const read = (chunks: Buffer[]) => {
    const r = new CopyReader(opts, columns);
    const rows = chunks.flatMap((c) => r.push(c));
    return [...rows, ...r.end()].map((x) => x.fields);
  };
  const whole = read([data]);
  for (let cut = 1; cut < data.length; cut++) expect(read([data.subarray(0, cut), data.subarray(cut)])).toEqual(whole);
  expect(read([...data].map((b) => Buffer.from([b])))).toEqual(whole);
  return whole;
}

describe('COPY text format', () => {
  it('reads escapes, NULL, octal and hex bytes, an escaped line feed, multi-byte characters and the end marker', () => {
    const data = Buffer.from('1\ta\\tb\\nc\\\\d\t\\N\n2\t\\101\\x42\\q\té\\\nx\n\\.\nignored\n', 'utf8');
    expect(readAllWays(data, TEXT, ['a', 'b', 'c'])).toEqual([
      ['1', 'a\tb\nc\\d', null],
      ['2', 'ABq', 'é\nx'],
    ]);
  });

  it('takes \\r\\n line ends when the first line has one, and a last line without a line end', () => {
    expect(readAllWays(Buffer.from('1\tx\r\n2\ty\r\n3\tz'), TEXT, ['a', 'b'])).toEqual([['1', 'x'], ['2', 'y'], ['3', 'z']]);
  });

  it('refuses a row with a column missing or one too many, naming the line', () => {
    const r = new CopyReader(TEXT, ['a', 'b']);
    expect(() => r.push(Buffer.from('1\tx\n2\n'))).toThrow(/missing data for column "b"/);
    const r2 = new CopyReader(TEXT, ['a', 'b']);
    let line = 0;
    try {
      r2.push(Buffer.from('1\tx\n2\ty\n3\ty\tz\n'));
    } catch (e) {
      line = (e as { line: number }).line;
      expect((e as Error).message).toBe('extra data after last expected column');
    }
    expect(line).toBe(3);
  });

  it('refuses bytes that are not UTF-8, and NUL', () => {
    expect(() => new CopyReader(TEXT, ['a']).push(Buffer.from([0xff, 0x0a]))).toThrow(/invalid byte sequence/);
    expect(() => new CopyReader(TEXT, ['a']).push(Buffer.from('\\0\n'))).toThrow(/0x00/);
  });

  it('writes what it reads back: COPY TO then COPY FROM keeps every value', () => {
    const rows = [['x\ty', null, '\\N', 'a\nb\rc', 'é\\'], ['', ' ', '\b\f\v', 'plain', '\\.']];
    const text = rows.map((r) => copyLine(r, ['a', 'b', 'c', 'd', 'e'], TEXT)).join('');
    expect(readAllWays(Buffer.from(text, 'utf8'), TEXT, ['a', 'b', 'c', 'd', 'e'])).toEqual(rows);
  });
});

describe('COPY csv format', () => {
  it('reads quotes, doubled quotes, quoted delimiters and line feeds; unquoted empty is NULL, quoted empty is text', () => {
    const data = Buffer.from('1,"a,b","say ""hi""\nthere"\n2,,""\n', 'utf8');
    expect(readAllWays(data, CSV, ['a', 'b', 'c'])).toEqual([
      ['1', 'a,b', 'say "hi"\nthere'],
      ['2', null, ''],
    ]);
  });

  it('skips the header line, and HEADER MATCH checks its names', () => {
    expect(readAllWays(Buffer.from('a,b\n1,2\n'), { ...CSV, header: true }, ['a', 'b'])).toEqual([['1', '2']]);
    expect(() => new CopyReader({ ...CSV, header: 'match' }, ['a', 'b']).push(Buffer.from('a,c\n1,2\n'))).toThrow(/column name mismatch in header line field 2/);
  });

  it('uses ESCAPE other than the quote, FORCE_NOT_NULL and FORCE_NULL', () => {
    const opts: CopyOptions = { ...CSV, escape: '\\', forceNotNull: ['b'], forceNull: ['c'] };
    expect(readAllWays(Buffer.from('"a\\"b\\\\c",,""\n'), opts, ['a', 'b', 'c'])).toEqual([['a"b\\c', '', null]]);
  });

  it('refuses an unterminated quoted field at the end of the data', () => {
    const r = new CopyReader(CSV, ['a']);
    expect(r.push(Buffer.from('"open\n'))).toEqual([]);
    expect(() => r.end()).toThrow(/unterminated CSV quoted field/);
  });

  it('writes what it reads back, quoting where it must (and FORCE_QUOTE)', () => {
    const rows = [['a,b', null, '', '"q"', 'line\nfeed'], ['\\.', 'plain', ' ', 'x', 'y']];
    const text = rows.map((r) => copyLine(r, ['a', 'b', 'c', 'd', 'e'], CSV)).join('');
    expect(text.split('\n')[0]).toBe('"a,b",,"","""q""","line');
    expect(readAllWays(Buffer.from(text, 'utf8'), CSV, ['a', 'b', 'c', 'd', 'e'])).toEqual(rows);
    expect(copyLine(['1', null], ['a', 'b'], { ...CSV, forceQuote: '*' })).toBe('"1",\n');
  });
});
