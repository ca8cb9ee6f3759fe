/**
 * Names OVS prints, recognised in place: a table keyed by the first two characters, the
 * last one and the length (one candidate, then one exact comparison) gives every flow the same interned
 * strings as keys, with no allocation, so the match objects of a dump share one shape.
 */
export class NameTable {
  private readonly byKey = new Map<number, string>();

  constructor(names: readonly string[]) {
    for (const name of names) {
      const key = NameTable.key(name, 0, name.length);
      const other = this.byKey.get(key);
      if (other !== undefined) throw new Error(`name table: ${name} collides with ${other}`);
      this.byKey.set(key, name);
    }
  }

  private static key(s: string, from: number, to: number): number {
    const first = s.charCodeAt(from) * 65536 + s.charCodeAt(from + 1) * 256;
    return (first + s.charCodeAt(to - 1)) * 256 + (to - from);
  }

  /** The known name spelled by line[from, to), or undefined. */
  at(line: string, from: number, to: number): string | undefined {
    if (to - from > 255 || to - from < 2) return undefined;
    const name = this.byKey.get(NameTable.key(line, from, to));
    // exact check by indexOf: cheaper than startsWith on V8's sliced strings (see wordAt)
    return name !== undefined && line.indexOf(name, from) === from ? name : undefined;
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
