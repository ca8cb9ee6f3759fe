import { closingParen, COMMA, SPACE } from './chars.js';
import { MATCH_FIELDS } from './names.js';

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
  let open = line.indexOf('(', p);
  while (open >= 0) {
    const name = MATCH_FIELDS.at(line, p, open);
    if (name === undefined) return p;
    let close = line.indexOf(')', open + 1);
    if (close < 0) return p;
    // the next `(` is normally the next field's: found once, used twice
    let next = line.indexOf('(', open + 1);
    if (next >= 0 && next < close) {
      // nested value (tunnel, encap, ct_tuple…): count depth
      close = closingParen(line, open, n);
      if (close < 0) return p;
      next = line.indexOf('(', close + 1);
    }
    const after = close + 1;
    if (after < n && line.charCodeAt(after) !== COMMA) return p;
    match[name] = line.slice(open + 1, close);
    p = after + 1;
    // `, ` ends the match: counters follow
    if (p >= n || line.charCodeAt(p) === SPACE) return Math.min(p, n);
    open = next;
  }
  return p;
}
