import { closingParen, COMMA, SPACE } from './chars.js';
import { knownFieldAt } from './names.js';

/**
 * Fast path for the match section as OVS prints it, `name(value),name(value),…` with known
 * names: jumps between parentheses with indexOf instead of visiting every character (the
 * match is most of a `-m` line). Stops before the first item it is not sure of and returns
 * its index; the general scanner goes on from there, so odd input gets the same treatment.
 */
export function scanKnownFields(
  line: string,
  from: number,
  n: number,
  match: Record<string, string>,
): number {
  let p = from;
  while (p < n) {
    const name = knownFieldAt(line, p);
    if (name === undefined) return p;
    const open = p + name.length;
    let close = line.indexOf(')', open + 1);
    if (close < 0) return p;
    const inner = line.indexOf('(', open + 1);
    if (inner >= 0 && inner < close) {
      // nested value (tunnel, encap, ct_tuple…): count depth
      close = closingParen(line, open, n);
      if (close < 0) return p;
    }
    const after = close + 1;
    if (after < n && line.charCodeAt(after) !== COMMA) return p;
    match[name] = line.slice(open + 1, close);
    p = after + 1;
    // `, ` ends the match: counters follow
    if (p >= n || line.charCodeAt(p) === SPACE) return Math.min(p, n);
  }
  return p;
}
