/**
 * Names OVS prints, recognised in place. A table indexed by length and first character
 * (the last character settles most ties: ipv4/ipv6/icmp, ct_zone/ct_mark…) names the
 * candidates, one indexOf confirms. Every flow thus gets the same interned strings as
 * keys, with no allocation, and the match objects of a dump share one shape.
 */
export class NameTable {
  private static readonly MAX = 16;
  private readonly slots: (string[] | undefined)[] = [];

  constructor(names: readonly string[]) {
    for (const name of names) {
      if (name.length > NameTable.MAX || name.charCodeAt(0) > 127) {
        throw new Error(`name table: ${name} does not fit`);
      }
      (this.slots[name.length * 128 + name.charCodeAt(0)] ??= []).push(name);
    }
  }

  /** The known name spelled by line[from, to), or undefined. */
  at(line: string, from: number, to: number): string | undefined {
    const len = to - from;
    if (len <= 0 || len > NameTable.MAX) return undefined;
    const slot = this.slots[len * 128 + line.charCodeAt(from)];
    if (slot === undefined) return undefined;
    const last = slot.length > 1 ? line.charCodeAt(to - 1) : -1;
    for (const name of slot) {
      if (last >= 0 && name.charCodeAt(len - 1) !== last) continue;
      // exact check by indexOf: cheaper than startsWith on V8's sliced strings (see wordAt)
      if (line.indexOf(name, from) === from) return name;
    }
    return undefined;
  }
}

/** Match field names (lib/odp-util.c ovs_key_attr_to_string, OVS 2.x–3.x). */
export const MATCH_FIELDS = new NameTable([
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
]);

/**
 * The `key:value` names OVS prints around a flow (lib/dpctl.c format_dpif_flow, lib/dpif.c
 * dpif_flow_stats_format).
 */
export const INFO_KEYS = new NameTable([
  'packets',
  'bytes',
  'used',
  'offloaded',
  'dp',
  'actions',
  'ufid',
  'flags',
  'dp-extra-info',
]);
