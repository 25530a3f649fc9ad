// The shape of a SQL text: the text with the values of its numeric and quoted
// string literals blanked, everything else (keywords, identifiers, comments,
// parameters, whitespace) kept. Two texts of the same shape differ only in
// literal values, which no classification depends on. The lexing follows
// PostgreSQL's (standard_conforming_strings on, as libpg-query parses);
// anything it is not sure of (dollar quotes, a letter right after a number,
// an unterminated literal) gives null and the text is cached as it is.

const isIdentChar = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24 || c >= 0x80;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const QUOTE = 0x27;

export function literalShape(sql: string): string | null {
  let out = '';
  let from = 0; // start of the text not yet copied to `out`
  let blanked = false;
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d) {
      // -- comment, kept
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      // /* comment */, nested as PostgreSQL nests them, kept
      let depth = 1;
      i += 2;
      while (i < n && depth) {
        if (sql.charCodeAt(i) === 0x2f && sql.charCodeAt(i + 1) === 0x2a) (depth++, (i += 2));
        else if (sql.charCodeAt(i) === 0x2a && sql.charCodeAt(i + 1) === 0x2f) (depth--, (i += 2));
        else i++;
      }
      if (depth) return null;
    } else if (c === 0x22) {
      // "identifier", kept
      i++;
      for (;;) {
        const end = sql.indexOf('"', i);
        if (end < 0) return null;
        i = end + 1;
        if (sql.charCodeAt(i) !== 0x22) break;
        i++;
      }
    } else if (c === QUOTE) {
      const start = i;
      const escapes = isEPrefix(sql, i);
      i++;
      for (;;) {
        if (i >= n) return null;
        const d = sql.charCodeAt(i);
        if (escapes && d === 0x5c) i += 2;
        else if (d === QUOTE) {
          if (sql.charCodeAt(i + 1) === QUOTE) i += 2;
          else break;
        } else i++;
      }
      out += sql.slice(from, start) + "'?";
      from = i; // the closing quote is copied with what follows
      i++;
      blanked = true;
    } else if (c === 0x24 && (i === 0 || !isIdentChar(sql.charCodeAt(i - 1))) && !isDigit(sql.charCodeAt(i + 1))) {
      // a dollar quote ($$ or $tag$): bodies are code, not values; not worth the risk
      return null;
    } else if (isIdentChar(c) && !isDigit(c)) {
      // keyword or identifier (a digit inside one, as in t1 or $1, belongs to it)
      while (i < n && isIdentChar(sql.charCodeAt(i))) i++;
    } else if (isDigit(c) || (c === 0x2e && isDigit(sql.charCodeAt(i + 1)))) {
      const start = i;
      const end = numberEnd(sql, i);
      if (end < 0) return null;
      out += sql.slice(from, start) + '0';
      from = i = end;
      blanked = true;
    } else i++;
  }
  if (!blanked) return null;
  return out + sql.slice(from);
}

/** The quote at `i` opens an E'…' string (backslash escapes): an E or e standing alone before it. */
function isEPrefix(sql: string, i: number): boolean {
  const p = sql.charCodeAt(i - 1);
  return (p === 0x45 || p === 0x65) && (i < 2 || !isIdentChar(sql.charCodeAt(i - 2)));
}

/** End of the numeric literal at `i` (123, 1_000, 1.5, .5, 1e-3, 0x1F), or -1 if a letter or digit runs on. */
function numberEnd(sql: string, i: number): number {
  const n = sql.length;
  const c1 = sql.charCodeAt(i + 1) | 0x20;
  if (sql.charCodeAt(i) === 0x30 && (c1 === 0x78 || c1 === 0x6f || c1 === 0x62)) {
    i = digitsEnd(sql, i + 2, isHexDigit);
  } else {
    i = digitsEnd(sql, i, isDigit);
    if (sql.charCodeAt(i) === 0x2e && sql.charCodeAt(i + 1) !== 0x2e) i = digitsEnd(sql, i + 1, isDigit);
    if ((sql.charCodeAt(i) | 0x20) === 0x65) {
      let j = i + 1;
      if (sql.charCodeAt(j) === 0x2b || sql.charCodeAt(j) === 0x2d) j++;
      if (!isDigit(sql.charCodeAt(j))) return -1;
      i = digitsEnd(sql, j, isDigit);
    }
  }
  return i < n && (isIdentChar(sql.charCodeAt(i)) || sql.charCodeAt(i) === 0x2e) ? -1 : i;
}

// module-level, not closures: this runs on every distinct SQL text
const isHexDigit = (c: number) => isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);

/** End of a run of digits (`ok`) and underscores from `j`. */
function digitsEnd(sql: string, j: number, ok: (c: number) => boolean): number {
  while (j < sql.length && (ok(sql.charCodeAt(j)) || sql.charCodeAt(j) === 0x5f)) j++;
  return j;
}
