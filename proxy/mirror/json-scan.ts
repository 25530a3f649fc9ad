// The top-level members of a JSON object as raw text, without JSON.parse:
// captured PostgreSQL rows carry bigint values as JSON numbers, and past 2^53
// a JS number would round them. Each member keeps its value's exact source
// text and kind; the caller converts (sqlite-values.ts). Nested objects and
// arrays (json/jsonb columns) stay as their text.
//
// The text may also be its UTF-8 bytes (a large captured row is never made a
// string: drain-statement.ts). JSON's structural characters are ASCII, and in
// UTF-8 no byte of a multi-byte character is below 0x80, so the same scan
// finds the same members in either form; only positions differ (bytes, not
// UTF-16 units), and they never leave this file.

export type JsonKind = 'string' | 'number' | 'true' | 'false' | 'null' | 'object' | 'array';

export interface RawValue {
  kind: JsonKind;
  /** The value's source text (for a string: with its quotes and escapes). */
  raw: string;
}

export class JsonScanError extends Error {}

/** JSON text, or its UTF-8 bytes. */
type JsonText = string | Buffer;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** The character code (string) or byte (Buffer) at `i`; past the end, a value equal to none (NaN, undefined). */
const at = (s: JsonText, i: number): number => (typeof s === 'string' ? s.charCodeAt(i) : s[i]!);

const slice = (s: JsonText, start: number, end: number): string => (typeof s === 'string' ? s.slice(start, end) : s.toString('utf8', start, end));

/** Members of the object in `text`, by name. */
export function scanObject(text: JsonText): Map<string, RawValue> {
  const out = new Map<string, RawValue>();
  eachMember(text, (key, start, end) => out.set(key, { kind: kindAt(text, start), raw: slice(text, start, end) }));
  return out;
}

/** Names of the top-level members of the object in `text`, in order (values skipped, not copied). */
export function memberNames(text: JsonText): string[] {
  const out: string[] = [];
  eachMember(text, (key) => out.push(key));
  return out;
}

/** Each top-level member of the object in `text`: its name and where its value's text starts and ends. */
function eachMember(text: JsonText, visit: (key: string, start: number, end: number) => void): void {
  let i = skipWs(text, 0);
  if (at(text, i) !== OPEN_OBJECT) throw new JsonScanError('expected a JSON object');
  i = skipWs(text, i + 1);
  if (at(text, i) === CLOSE_OBJECT) return;
  for (;;) {
    if (at(text, i) !== QUOTE) throw new JsonScanError(`expected a member name at ${i}`);
    const keyEnd = endOfString(text, i);
    const bare = slice(text, i + 1, keyEnd - 1);
    const key = bare.includes('\\') ? (JSON.parse(slice(text, i, keyEnd)) as string) : bare;
    i = skipWs(text, keyEnd);
    if (at(text, i) !== COLON) throw new JsonScanError(`expected ':' at ${i}`);
    i = skipWs(text, i + 1);
    const end = endOfValue(text, i);
    visit(key, i, end);
    i = skipWs(text, end);
    const c = at(text, i);
    if (c === COMMA) {
      i = skipWs(text, i + 1);
      continue;
    }
    if (c === CLOSE_OBJECT) return;
    throw new JsonScanError(`expected ',' or '}' at ${i}`);
  }
}

const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;

function skipWs(s: JsonText, i: number): number {
  while (i < s.length && isWs(at(s, i))) i++;
  return i;
}

function kindAt(s: JsonText, i: number): JsonKind {
  const c = at(s, i);
  if (c === QUOTE) return 'string';
  if (c === OPEN_OBJECT) return 'object';
  if (c === OPEN_ARRAY) return 'array';
  if (c === 0x74) return 'true';
  if (c === 0x66) return 'false';
  if (c === 0x6e) return 'null';
  return 'number';
}

/**
 * Index just past the string starting at `i` (a '"'). The next quote is found
 * by indexOf, not character by character: a 40 MB bytea is an 80 MB string,
 * scanned in a second that way (and the mirror's apply waits on it).
 */
function endOfString(s: JsonText, i: number): number {
  for (let from = i + 1; ; ) {
    const q = typeof s === 'string' ? s.indexOf('"', from) : s.indexOf(QUOTE, from);
    if (q < 0) throw new JsonScanError('unterminated string');
    // escaped when an odd number of backslashes comes before it
    let b = q - 1;
    while (b > i && at(s, b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/** Whether `c` ends a number, true, false or null. */
const isStop = (c: number) => c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || isWs(c);

/** Index just past the value starting at `i`. */
function endOfValue(s: JsonText, i: number): number {
  const c = at(s, i);
  if (c === QUOTE) return endOfString(s, i);
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const d = at(s, j);
      if (d === QUOTE) j = endOfString(s, j) - 1;
      else if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
      else if (d === CLOSE_OBJECT || d === CLOSE_ARRAY) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw new JsonScanError('unterminated object or array');
  }
  let j = i;
  while (j < s.length && !isStop(at(s, j))) j++;
  if (j === i) throw new JsonScanError(`expected a value at ${i}`);
  return j;
}
