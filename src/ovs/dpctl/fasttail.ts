import { CLOSE, closingParen, COLON, COMMA, isBlank, OPEN, SPACE, wordAt } from './chars.js';
import { parseAction, type InfoFields } from './fields.js';
import { NameTable } from './names.js';
import type { DpAction } from './types.js';

/**
 * Fast paths for what follows the match, as OVS prints it: the counters
 * (`packets:…, bytes:…, used:…[, flags:…][, offloaded:…][, dp:…]`) and the action list.
 * Like scanKnownFields they stop before the first item they are not sure of, without
 * recording it, and the general scanner goes on from there: any error is its to report.
 */

/** Keys whose values never hold `(`, `)` or `,`. */
const STATS = new NameTable(['packets', 'bytes', 'used', 'offloaded', 'dp', 'flags']);

/** Values the typed fields take; counters and `used` are checked by InfoFields.set. */
function knownValue(key: string, line: string, from: number, to: number): boolean {
  const len = to - from;
  if (key === 'dp') {
    return (
      (len === 2 && wordAt(line, from, 'tc')) ||
      (len === 3 && wordAt(line, from, 'ovs')) ||
      (len === 4 && wordAt(line, from, 'dpdk'))
    );
  }
  if (key === 'offloaded') {
    return (len === 3 && wordAt(line, from, 'yes')) || (len === 7 && wordAt(line, from, 'partial'));
  }
  return true;
}

/** Reads counter items from `from`; returns where it stopped (at `actions:` normally). */
export function scanStats(line: string, from: number, n: number, info: InfoFields): number {
  let p = from;
  for (;;) {
    while (p < n && (line.charCodeAt(p) === COMMA || isBlank(line.charCodeAt(p)))) p++;
    if (p >= n) return n;
    const colon = line.indexOf(':', p);
    if (colon < 0) return p;
    const key = STATS.at(line, p, colon);
    if (key === undefined) return p;
    const v = p + key.length + 1;
    let end = line.indexOf(',', v);
    if (end < 0) end = n;
    // a value that would go to extra may hold anything: leave it to the general path
    if (key === 'flags' ? !plainToken(line, v, end) : !knownValue(key, line, v, end)) return p;
    if (info.set(key, line, v, end) !== null) return p;
    p = end;
  }
}

/** True when line[from, to) is a plain token: no parenthesis, colon or blank. */
function plainToken(line: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = line.charCodeAt(i);
    if (c === OPEN || c === CLOSE || c === COLON || c === SPACE || c === 0x09) return false;
  }
  return to > from;
}

/** Reads action items from `from` (just after `actions:`); returns where it stopped. */
export function scanActions(line: string, from: number, n: number, actions: DpAction[]): number {
  let p = from;
  while (p < n) {
    let comma = line.indexOf(',', p);
    if (comma < 0) comma = n;
    const open = line.indexOf('(', p);
    let end: number;
    if (open < 0 || open > comma) {
      if (!plainToken(line, p, comma)) return p;
      end = comma;
    } else {
      const close = closingParen(line, open, n);
      if (close < 0) return p;
      end = close + 1;
      if (end < n && line.charCodeAt(end) !== COMMA) return p;
    }
    const a = parseAction(line, p, end);
    if (typeof a === 'string') return p;
    actions.push(a);
    // `, dp-extra-info:…` (or anything after a blank) is for the general path
    p = end + 1;
    if (p < n && isBlank(line.charCodeAt(p))) return p;
  }
  return n;
}
