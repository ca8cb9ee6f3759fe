import { excerpt, isIdent } from './chars.js';
import { parseCounter } from './counter.js';
import type { Counter, DpAction, DpLayer, Offloaded } from './types.js';

/**
 * Bare words that are actions, not output ports. OVS prints these without parentheses
 * (newer releases print `pop_nsh()`, which parses as a call anyway).
 */
const BARE_ACTIONS = new Set(['drop', 'ct', 'ct_clear', 'pop_vlan', 'pop_eth', 'pop_nsh']);

/** One top-level action item, line[from, to) (already trimmed), or an error message. */
export function parseAction(line: string, from: number, to: number): DpAction | string {
  const open = line.indexOf('(', from);
  if (open < 0 || open >= to) {
    const word = line.slice(from, to);
    return BARE_ACTIONS.has(word) ? { name: word, args: null } : { name: 'output', args: word };
  }
  // The scanner already checked the parentheses balance; a name that is not an identifier
  // means text OVS never prints as an action (e.g. `***12 leftover bytes*** (…)`).
  if (!isIdent(line, from, open) || line.charCodeAt(to - 1) !== 0x29) {
    return `bad action ${excerpt(line.slice(from, to))}`;
  }
  return { name: line.slice(from, open), args: line.slice(open + 1, to - 1) };
}

/** `used:` is `%.3fs` seconds ago, or `never`. The clock may step, so allow a minus sign. */
export function parseUsed(text: string): number | null | undefined {
  if (text === 'never') return null;
  const n = text.length - 1;
  if (n < 1 || text.charCodeAt(n) !== 0x73 /* s */) return undefined;
  let i = text.charCodeAt(0) === 0x2d /* - */ ? 1 : 0;
  let digits = 0;
  let dot = false;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e && !dot) dot = true;
    else if (c >= 0x30 && c <= 0x39) digits++;
    else return undefined;
  }
  return digits > 0 ? Number(text.slice(0, n)) : undefined;
}

/** The `key:value` fields of one line, before it becomes a DpFlow. */
export class InfoFields {
  ufid: string | null = null;
  packets: Counter | undefined = undefined;
  bytes: Counter | undefined = undefined;
  used: number | null | undefined = undefined;
  dp: DpLayer | null = null;
  offloaded: Offloaded | null = null;
  dpExtraInfo: string | null = null;
  extra: Record<string, string> = {};

  /** Records one field; returns an error message when its value is malformed. */
  set(key: string, value: string): string | null {
    switch (key) {
      case 'packets':
      case 'bytes': {
        if (this[key] !== undefined) return `duplicate ${key}:`;
        const c = parseCounter(value);
        if (c === null) return `bad ${key}: value ${excerpt(value)}`;
        this[key] = c;
        return null;
      }
      case 'used': {
        if (this.used !== undefined) return 'duplicate used:';
        const u = parseUsed(value);
        if (u === undefined) return `bad used: value ${excerpt(value)}`;
        this.used = u;
        return null;
      }
      case 'ufid':
        this.ufid = value;
        return null;
      case 'dp':
        // dp_layer names in OVS 2.13–3.x; anything else (a vendor layer) is kept in extra.
        if (value === 'tc' || value === 'ovs' || value === 'dpdk') this.dp = value;
        else this.extra[key] = value;
        return null;
      case 'offloaded':
        if (value === 'yes' || value === 'partial') this.offloaded = value;
        else this.extra[key] = value;
        return null;
      case 'dp-extra-info':
        this.dpExtraInfo = value;
        return null;
      case '__proto__':
        return 'reserved field name __proto__';
      default:
        this.extra[key] = value;
        return null;
    }
  }
}
