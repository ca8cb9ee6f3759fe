import { CLOSE, excerpt, isIdent, wordAt } from './chars.js';
import { parseCounterAt } from './counter.js';
import { INFO_KEYS, NameTable } from './names.js';
import type { Counter, DpAction, DpLayer, Offloaded } from './types.js';

/**
 * Bare words that are actions, not output ports. OVS prints these without parentheses
 * (newer releases print `pop_nsh()`, which parses as a call anyway).
 */
const BARE_ACTIONS = new NameTable(['drop', 'ct', 'ct_clear', 'pop_vlan', 'pop_eth', 'pop_nsh']);

/** Action names of lib/odp-util.c format_odp_action (OVS 2.x–3.x), interned. */
const ACTION_NAMES = new NameTable([
  'ct',
  'recirc',
  'set',
  'push_vlan',
  'pop_vlan',
  'userspace',
  'clone',
  'check_pkt_len',
  'sample',
  'tnl_push',
  'tnl_pop',
  'hash',
  'meter',
  'trunc',
  'push_mpls',
  'pop_mpls',
  'add_mpls',
  'push_eth',
  'push_nsh',
  'pop_nsh',
  'lb_output',
  'dec_ttl',
  'drop',
  'psample',
]);

/**
 * One top-level action item, line[from, to) (already trimmed), or an error message. `open`
 * is the first `(` at or after `from` when the caller knows it.
 */
export function parseAction(
  line: string,
  from: number,
  to: number,
  open = line.indexOf('(', from),
): DpAction | string {
  if (open < 0 || open >= to) {
    const bare = BARE_ACTIONS.at(line, from, to);
    return bare !== undefined
      ? { name: bare, args: null }
      : { name: 'output', args: line.slice(from, to) };
  }
  // The scanner already checked the parentheses balance; a name that is not an identifier
  // means text OVS never prints as an action (e.g. `***12 leftover bytes*** (…)`).
  if (line.charCodeAt(to - 1) !== CLOSE) return `bad action ${excerpt(line.slice(from, to))}`;
  const name =
    ACTION_NAMES.at(line, from, open) ??
    (isIdent(line, from, open) ? line.slice(from, open) : undefined);
  if (name === undefined) return `bad action ${excerpt(line.slice(from, to))}`;
  return { name, args: line.slice(open + 1, to - 1) };
}

/** `used:` is `%.3fs` seconds ago, or `never`. The clock may step, so allow a minus sign. */
export function parseUsed(text: string): number | null | undefined {
  return parseUsedAt(text, 0, text.length);
}

export function parseUsedAt(text: string, from: number, to: number): number | null | undefined {
  if (to - from === 5 && wordAt(text, from, 'never')) return null;
  const last = to - 1;
  if (last <= from || text.charCodeAt(last) !== 0x73 /* s */) return undefined;
  let i = text.charCodeAt(from) === 0x2d /* - */ ? from + 1 : from;
  let digits = 0;
  let dot = false;
  for (; i < last; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e && !dot) dot = true;
    else if (c >= 0x30 && c <= 0x39) digits++;
    else return undefined;
  }
  return digits > 0 ? Number(text.slice(from, last)) : undefined;
}

/**
 * The dp_layer names of OVS 2.13–3.x in line[from, to), or null: anything else (a vendor
 * layer) is kept in extra.
 */
export function dpLayerAt(line: string, from: number, to: number): DpLayer | null {
  const len = to - from;
  if (len === 2 && wordAt(line, from, 'tc')) return 'tc';
  if (len === 3 && wordAt(line, from, 'ovs')) return 'ovs';
  if (len === 4 && wordAt(line, from, 'dpdk')) return 'dpdk';
  return null;
}

export function offloadedAt(line: string, from: number, to: number): Offloaded | null {
  const len = to - from;
  if (len === 3 && wordAt(line, from, 'yes')) return 'yes';
  if (len === 7 && wordAt(line, from, 'partial')) return 'partial';
  return null;
}

/** The key in line[from, to) (followed by its `:`): a known constant, a new string, or null. */
export function infoKey(line: string, from: number, to: number): string | null {
  const known = INFO_KEYS.at(line, from, to);
  if (known !== undefined) return known;
  return isIdent(line, from, to) ? line.slice(from, to) : null;
}

/** The `key:value` fields of one line, before they become a DpFlow. */
export class InfoFields {
  ufid: string | null = null;
  packets: Counter | undefined = undefined;
  bytes: Counter | undefined = undefined;
  used: number | null | undefined = undefined;
  dp: DpLayer | null = null;
  offloaded: Offloaded | null = null;
  dpExtraInfo: string | null = null;
  extra: Record<string, string> = {};

  /** Records one field, its value line[from, to); returns an error message if malformed. */
  set(key: string, line: string, from: number, to: number): string | null {
    switch (key) {
      case 'packets': {
        if (this.packets !== undefined) return 'duplicate packets:';
        const c = parseCounterAt(line, from, to);
        if (c === null) return `bad packets: value ${excerpt(line.slice(from, to))}`;
        this.packets = c;
        return null;
      }
      case 'bytes': {
        if (this.bytes !== undefined) return 'duplicate bytes:';
        const c = parseCounterAt(line, from, to);
        if (c === null) return `bad bytes: value ${excerpt(line.slice(from, to))}`;
        this.bytes = c;
        return null;
      }
      case 'used': {
        if (this.used !== undefined) return 'duplicate used:';
        const u = parseUsedAt(line, from, to);
        if (u === undefined) return `bad used: value ${excerpt(line.slice(from, to))}`;
        this.used = u;
        return null;
      }
      case 'dp': {
        const dp = dpLayerAt(line, from, to);
        if (dp !== null) this.dp = dp;
        else this.extra[key] = line.slice(from, to);
        return null;
      }
      case 'offloaded': {
        const o = offloadedAt(line, from, to);
        if (o !== null) this.offloaded = o;
        else this.extra[key] = line.slice(from, to);
        return null;
      }
      case 'ufid':
        this.ufid = line.slice(from, to);
        return null;
      case 'dp-extra-info':
        this.dpExtraInfo = line.slice(from, to);
        return null;
      case '__proto__':
        return 'reserved field name __proto__';
      default:
        this.extra[key] = line.slice(from, to);
        return null;
    }
  }
}
