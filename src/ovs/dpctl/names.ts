import { OPEN } from './chars.js';

/**
 * Match field names OVS prints (lib/odp-util.c, ovs_key_attr_to_string, 2.x–3.x). Looking
 * them up instead of slicing gives every flow the same interned keys: no allocation, and
 * the match objects of a dump share one shape. Unknown names take the general path.
 */
const KNOWN = [
  'skb_priority',
  'skb_mark',
  'ct_state',
  'ct_zone',
  'ct_mark',
  'ct_label',
  'ct_tuple4',
  'ct_tuple6',
  'recirc_id',
  'dp_hash',
  'in_port',
  'packet_type',
  'eth',
  'eth_type',
  'vlan',
  'encap',
  'ipv4',
  'ipv6',
  'tcp',
  'tcp_flags',
  'udp',
  'sctp',
  'icmp',
  'icmpv6',
  'arp',
  'nd',
  'nd_ext',
  'tunnel',
  'mpls',
  'nsh',
];

const BY_FIRST: (string[] | undefined)[] = [];
for (const name of KNOWN) (BY_FIRST[name.charCodeAt(0)] ??= []).push(name);

/** The known field name that starts at `at` and is followed by `(`, or undefined. */
export function knownFieldAt(line: string, at: number): string | undefined {
  const candidates = BY_FIRST[line.charCodeAt(at)];
  if (candidates === undefined) return undefined;
  for (const name of candidates) {
    if (line.charCodeAt(at + name.length) === OPEN && line.startsWith(name, at)) return name;
  }
  return undefined;
}
