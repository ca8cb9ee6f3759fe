import { CLOSE, closingParen, COLON, COMMA, isBlank, OPEN, SPACE, wordAt } from './chars.js';
import { parseCounterAt } from './counter.js';
import { dpLayerAt, offloadedAt, parseAction, parseUsedAt, type InfoFields } from './fields.js';
import type { DpAction } from './types.js';

/**
 * Fast paths for what follows the match, as OVS prints it: the counters
 * (`packets:…, bytes:…, used:…[, flags:…][, offloaded:…][, dp:…]`) and the action list.
 * Like scanKnownFields they stop before the first item they are not sure of, without
 * recording it, and the general scanner goes on from there: any error is its to report.
 */

/** The counter key at `at` (followed by `:`), told apart by its first character. */
function statKeyAt(line: string, at: number): string | undefined {
  let key: string;
  switch (line.charCodeAt(at)) {
    case 0x70: // p
      key = 'packets';
      break;
    case 0x62: // b
      key = 'bytes';
      break;
    case 0x75: // u
      key = 'used';
      break;
    case 0x6f: // o
      key = 'offloaded';
      break;
    case 0x64: // d
      key = 'dp';
      break;
    case 0x66: // f
      key = 'flags';
      break;
    default:
      return undefined;
  }
  return line.charCodeAt(at + key.length) === COLON && line.indexOf(key, at) === at
    ? key
    : undefined;
}

/** End of the run of decimal digits starting at `from`. */
function digitsEnd(line: string, from: number, n: number): number {
  let i = from;
  while (i < n) {
    const d = line.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    i++;
  }
  return i;
}

/** Reads counter items from `from`; returns where it stopped (at `actions:` normally). */
export function scanStats(line: string, from: number, n: number, info: InfoFields): number {
  let p = from;
  for (;;) {
    while (p < n && (line.charCodeAt(p) === COMMA || isBlank(line.charCodeAt(p)))) p++;
    if (p >= n) return n;
    const key = statKeyAt(line, p);
    if (key === undefined) return p;
    const v = p + key.length + 1;
    let end: number;
    if (key === 'packets' || key === 'bytes') {
      end = digitsEnd(line, v, n);
      if (end === v || (end < n && line.charCodeAt(end) !== COMMA)) return p;
      const c = parseCounterAt(line, v, end);
      if (c === null) return p;
      if (key === 'packets') {
        if (info.packets !== undefined) return p;
        info.packets = c;
      } else {
        if (info.bytes !== undefined) return p;
        info.bytes = c;
      }
    } else {
      end = line.indexOf(',', v);
      if (end < 0) end = n;
      if (key === 'used') {
        const u = info.used === undefined ? parseUsedAt(line, v, end) : undefined;
        if (u === undefined) return p;
        info.used = u;
      } else if (key === 'dp') {
        const dp = dpLayerAt(line, v, end);
        if (dp === null) return p;
        info.dp = dp;
      } else if (key === 'offloaded') {
        const o = offloadedAt(line, v, end);
        if (o === null) return p;
        info.offloaded = o;
      } else {
        // flags: only a plain token; anything else is the general path's
        if (!plainToken(line, v, end)) return p;
        info.extra.flags = line.slice(v, end);
      }
    }
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

/** What a bare action word never holds: the general path judges such items. */
const NOT_IN_WORD = [')', ':', ' ', '\t'];

/** Reads action items from `from` (just after `actions:`); returns where it stopped. */
export function scanActions(line: string, from: number, n: number, actions: DpAction[]): number {
  let p = from;
  // where the next `)`, `:`, space and tab are: each searched for once, reused while ahead
  const next = [-2, -2, -2, -2];
  while (p < n) {
    let comma = line.indexOf(',', p);
    if (comma < 0) comma = n;
    const open = line.indexOf('(', p);
    let end: number;
    if (open < 0 || open > comma) {
      // a bare word (a port, drop, ct, pop_vlan…) holds none of these, and is not empty
      if (comma === p) return p;
      for (let k = 0; k < 4; k++) {
        let at = next[k]!;
        if (at !== -1 && at < p) next[k] = at = line.indexOf(NOT_IN_WORD[k]!, p);
        if (at >= 0 && at < comma) return p;
      }
      end = comma;
    } else {
      const last = closingParen(line, open, n);
      if (last < 0) return p;
      end = last + 1;
      if (end < n && line.charCodeAt(end) !== COMMA) return p;
    }
    const a = parseAction(line, p, end, open);
    if (typeof a === 'string') return p;
    actions.push(a);
    // `, dp-extra-info:…` (or anything after a blank) is for the general path
    p = end + 1;
    if (p < n && isBlank(line.charCodeAt(p))) return p;
  }
  return n;
}

/**
 * `, dp-extra-info:miniflow_bits(4,1)` at the end of a userspace-datapath `-m` line: taken
 * whole when nothing else can follow (no other `:`, one balanced group); returns where it
 * stopped.
 */
export function scanExtraInfo(line: string, from: number, n: number, info: InfoFields): number {
  let p = from;
  while (p < n && (line.charCodeAt(p) === COMMA || isBlank(line.charCodeAt(p)))) p++;
  if (!wordAt(line, p, 'dp-extra-info:')) return from;
  const v = p + 14;
  let e = n;
  while (e > v && isBlank(line.charCodeAt(e - 1))) e--;
  if (line.indexOf(':', v) >= 0) return from;
  const open = line.indexOf('(', v);
  const close = line.indexOf(')', v);
  if (open < 0 ? close >= 0 : close !== e - 1 || line.indexOf('(', open + 1) >= 0) return from;
  info.dpExtraInfo = line.slice(v, e);
  return n;
}
