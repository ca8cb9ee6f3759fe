/** Character classes for the dump-flows scanner (char codes, no regex on the hot path). */

export const SPACE = 0x20;
export const TAB = 0x09;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const OPEN = 0x28;
export const CLOSE = 0x29;
export const HASH = 0x23;
export const CR = 0x0d;
export const LF = 0x0a;

const IDENT_START = new Uint8Array(128);
const IDENT_PART = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  const start = /[A-Za-z_]/.test(ch);
  IDENT_START[c] = start ? 1 : 0;
  IDENT_PART[c] = start || /[0-9-]/.test(ch) ? 1 : 0;
}

/** `[A-Za-z_][A-Za-z0-9_-]*` over line[from, to): field, key and action names. */
export function isIdent(line: string, from: number, to: number): boolean {
  if (to <= from) return false;
  const c0 = line.charCodeAt(from);
  if (c0 >= 128 || IDENT_START[c0] !== 1) return false;
  for (let i = from + 1; i < to; i++) {
    const c = line.charCodeAt(i);
    if (c >= 128 || IDENT_PART[c] !== 1) return false;
  }
  return true;
}

export function isBlank(c: number): boolean {
  return c === SPACE || c === TAB;
}

/** Short quoted excerpt for error messages (lines can be kilobytes long). */
export function excerpt(text: string, max = 40): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/**
 * Index of the `)` closing the `(` at `open`, or -1 when the line ends first. Jumps from
 * parenthesis to parenthesis with indexOf: a `set(tunnel(…geneve(…)…))` is 130 characters
 * but only eight parentheses.
 */
export function closingParen(line: string, open: number, n: number): number {
  let depth = 1;
  let p = open + 1;
  let nextOpen = line.indexOf('(', p);
  for (;;) {
    const close = line.indexOf(')', p);
    if (close < 0 || close >= n) return -1;
    // every `(` before this `)` opens a level first
    while (nextOpen >= 0 && nextOpen < close) {
      depth++;
      nextOpen = line.indexOf('(', nextOpen + 1);
    }
    if (--depth === 0) return close;
    p = close + 1;
  }
}

/**
 * line.startsWith(word, at), cheaper: V8's startsWith on a sliced string (every line split
 * from a chunk is one) costs about twice an indexOf that stops at `at`; the first
 * character is checked first so a miss does not scan the rest of the line.
 */
export function wordAt(line: string, at: number, word: string): boolean {
  return line.charCodeAt(at) === word.charCodeAt(0) && line.indexOf(word, at) === at;
}
