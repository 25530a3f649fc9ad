// The top-level members of a JSON object as raw text, without JSON.parse:
// captured PostgreSQL rows carry bigint values as JSON numbers, and past 2^53
// a JS number would round them. Each member keeps its value's exact source
// text and kind; the caller converts (sqlite-values.ts). Nested objects and
// arrays (json/jsonb columns) stay as their text.

export type JsonKind = 'string' | 'number' | 'true' | 'false' | 'null' | 'object' | 'array';

export interface RawValue {
  kind: JsonKind;
  /** The value's source text (for a string: with its quotes and escapes). */
  raw: string;
}

export class JsonScanError extends Error {}

/** Members of the object in `text`, by name. */
export function scanObject(text: string): Map<string, RawValue> {
  const out = new Map<string, RawValue>();
  eachMember(text, (key, start, end) => out.set(key, { kind: kindAt(text, start), raw: text.slice(start, end) }));
  return out;
}

/** Names of the top-level members of the object in `text`, in order (values skipped, not copied). */
export function memberNames(text: string): string[] {
  const out: string[] = [];
  eachMember(text, (key) => out.push(key));
  return out;
}

/** Each top-level member of the object in `text`: its name and where its value's text starts and ends. */
function eachMember(text: string, visit: (key: string, start: number, end: number) => void): void {
  let i = skipWs(text, 0);
  if (text[i] !== '{') throw new JsonScanError('expected a JSON object');
  i = skipWs(text, i + 1);
  if (text[i] === '}') return;
  for (;;) {
    if (text[i] !== '"') throw new JsonScanError(`expected a member name at ${i}`);
    const keyEnd = endOfString(text, i);
    const bare = text.slice(i + 1, keyEnd - 1);
    const key = bare.includes('\\') ? (JSON.parse(text.slice(i, keyEnd)) as string) : bare;
    i = skipWs(text, keyEnd);
    if (text[i] !== ':') throw new JsonScanError(`expected ':' at ${i}`);
    i = skipWs(text, i + 1);
    const end = endOfValue(text, i);
    visit(key, i, end);
    i = skipWs(text, end);
    if (text[i] === ',') {
      i = skipWs(text, i + 1);
      continue;
    }
    if (text[i] === '}') return;
    throw new JsonScanError(`expected ',' or '}' at ${i}`);
  }
}

function skipWs(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\n' || s[i] === '\t' || s[i] === '\r')) i++;
  return i;
}

function kindAt(s: string, i: number): JsonKind {
  const c = s[i];
  if (c === '"') return 'string';
  if (c === '{') return 'object';
  if (c === '[') return 'array';
  if (c === 't') return 'true';
  if (c === 'f') return 'false';
  if (c === 'n') return 'null';
  return 'number';
}

/**
 * Index just past the string starting at `i` (a '"'). The next quote is found
 * by indexOf, not character by character: a 40 MB bytea is an 80 MB string,
 * scanned in a second that way (and the mirror's apply waits on it).
 */
function endOfString(s: string, i: number): number {
  for (let from = i + 1; ; ) {
    const q = s.indexOf('"', from);
    if (q < 0) throw new JsonScanError('unterminated string');
    // escaped when an odd number of backslashes comes before it
    let b = q - 1;
    while (b > i && s.charCodeAt(b) === 0x5c) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    from = q + 1;
  }
}

/** Characters that end a number, true, false or null. */
const STOPS = new Set([',', '}', ']', ' ', '\n', '\t', '\r']);

/** Index just past the value starting at `i`. */
function endOfValue(s: string, i: number): number {
  const c = s[i];
  if (c === '"') return endOfString(s, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const d = s[j];
      if (d === '"') j = endOfString(s, j) - 1;
      else if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw new JsonScanError('unterminated object or array');
  }
  let j = i;
  while (j < s.length && !STOPS.has(s[j]!)) j++;
  if (j === i) throw new JsonScanError(`expected a value at ${i}`);
  return j;
}
