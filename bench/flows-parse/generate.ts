/**
 * A realistic `ovs-appctl dpctl/dump-flows -m` dump of a busy switchdev node, generated
 * deterministically (seeded) so every run parses the same text: conntrack first and second
 * passes (ct/recirc), Geneve decap and encap (tunnel match, set(tunnel(geneve))), VLAN
 * push/pop with encap(), IPv6 drops, ARP, and software flows of the userspace datapath
 * (dp:ovs, used:never, dp-extra-info). Most flows are offloaded by tc, some partially;
 * a few counters pass 2^32, very few 2^53.
 */

/** mulberry32: small, fast, good enough to shuffle a flow mix. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');

export class FlowGenerator {
  private readonly r: () => number;
  private n = 0;

  constructor(seed = 1) {
    this.r = rng(seed);
  }

  private int(max: number): number {
    return Math.floor(this.r() * max);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  private ufid(): string {
    const h = () => hex(this.int(0x10000), 4);
    return `${h()}${h()}-${h()}-4${hex(this.int(0x1000), 3)}-${h()}-${h()}${h()}${h()}`;
  }

  private mac(): string {
    return `0a:58:${[0, 0, 0, 0].map(() => hex(this.int(256), 2)).join(':')}`;
  }

  private ip(): string {
    return `10.${16 + this.int(4)}.${this.int(256)}.${1 + this.int(254)}`;
  }

  private rep(): string {
    return `${hex(this.int(0x1000000), 6)}${hex(this.int(0x1000000), 6)}_h`;
  }

  /** Counters: mostly modest, 1 in 50 past 2^32 bytes, 1 in 20,000 past 2^53. */
  private stats(offloaded: 'yes' | 'partial' | null, dp: string): string {
    const roll = this.r();
    let packets: bigint;
    let bytes: bigint;
    if (roll < 0.00005) {
      packets = 2n ** 53n + BigInt(this.int(1e9));
      bytes = packets * 1400n;
    } else if (roll < 0.02) {
      packets = BigInt(5e6 + this.int(2e8));
      bytes = packets * 1300n;
    } else if (roll < 0.1) {
      packets = 0n;
      bytes = 0n;
    } else {
      packets = BigInt(1 + this.int(100000));
      bytes = packets * BigInt(60 + this.int(1400));
    }
    const used =
      packets === 0n && this.r() < 0.5 ? 'never' : `${(this.int(30000) / 1000).toFixed(3)}s`;
    const layer = offloaded === null ? `dp:${dp}` : `offloaded:${offloaded}, dp:${dp}`;
    return `packets:${packets}, bytes:${bytes}, used:${used}, ${layer}`;
  }

  private head(ct: string, recirc: string, inPort: string, tunnel = ''): string {
    return (
      `ufid:${this.ufid()}, skb_priority(0/0),${tunnel}skb_mark(0/0),${ct},ct_zone(0/0),ct_mark(0/0),` +
      `ct_label(0/0),recirc_id(${recirc}),dp_hash(0/0),in_port(${inPort}),packet_type(ns=0/0,id=0/0),`
    );
  }

  private ipv4tcp(): string {
    return (
      `eth(src=${this.mac()},dst=${this.mac()}),eth_type(0x0800),` +
      `ipv4(src=${this.ip()},dst=${this.ip()},proto=6,tos=0/0x3,ttl=0/0,frag=no),` +
      `tcp(src=0/0,dst=${1 + this.int(65535)})`
    );
  }

  /** The next flow line (no newline). */
  next(): string {
    this.n++;
    const kind = this.r();
    const zone = 1 + this.int(64);
    const recirc = `0x${hex(1 + this.int(0xfffff), 1)}`;
    const tc = this.r() < 0.85;
    const off = tc ? ('yes' as const) : this.r() < 0.5 ? ('partial' as const) : null;
    const dp = tc ? 'tc' : 'ovs';
    const extraInfo = tc ? '' : `, dp-extra-info:miniflow_bits(${4 + this.int(2)},${this.int(3)})`;
    if (kind < 0.3) {
      return (
        this.head('ct_state(0/0x23)', '0', this.rep()) +
        `${this.ipv4tcp()}, ${this.stats(off, dp)}, actions:ct(zone=${zone},nat),recirc(${recirc})${extraInfo}`
      );
    }
    if (kind < 0.55) {
      return (
        this.head('ct_state(0x2a/0x3f)', recirc, this.rep()) +
        `${this.ipv4tcp()}, ${this.stats(off, dp)}, actions:${this.rep()}${extraInfo}`
      );
    }
    if (kind < 0.68) {
      const tunnel =
        `tunnel(tun_id=0x${hex(1 + this.int(0xffff), 1)},src=192.168.201.${1 + this.int(254)},dst=192.168.201.11,` +
        `ttl=0/0,tp_dst=6081,geneve({class=0x102,type=0x80,len=4,0x${hex(this.int(0xfffff), 5)}/0x7fffffff}),flags(+key)),`;
      return (
        this.head('ct_state(0/0)', '0', 'genev_sys_6081', tunnel) +
        `${this.ipv4tcp()}, ${this.stats(off, dp)}, actions:${this.rep()}${extraInfo}`
      );
    }
    if (kind < 0.8) {
      return (
        this.head('ct_state(0/0)', '0', this.rep()) +
        `${this.ipv4tcp()}, ${this.stats(off, dp)}, actions:set(tunnel(tun_id=0x${hex(1 + this.int(0xffff), 1)},` +
        `dst=192.168.201.${1 + this.int(254)},ttl=64,tp_dst=6081,geneve({class=0x102,type=0x80,len=4,0x${hex(this.int(0xfffff), 5)}}),` +
        `flags(csum|key))),genev_sys_6081${extraInfo}`
      );
    }
    if (kind < 0.88) {
      const vid = 1 + this.int(4094);
      return this.r() < 0.5
        ? this.head('ct_state(0/0)', '0', 'p0') +
            `eth(src=${this.mac()},dst=${this.mac()}),eth_type(0x8100),vlan(vid=${vid},pcp=0),` +
            `encap(eth_type(0x0800),ipv4(src=${this.ip()},dst=${this.ip()},proto=17,tos=0/0,ttl=0/0,frag=no),udp(src=0/0,dst=4789)), ` +
            `${this.stats(off, dp)}, actions:pop_vlan,${this.rep()}${extraInfo}`
        : this.head('ct_state(0/0)', '0', this.rep()) +
            `${this.ipv4tcp()}, ${this.stats(off, dp)}, actions:push_vlan(vid=${vid},pcp=0),p0${extraInfo}`;
    }
    if (kind < 0.94) {
      return (
        this.head('ct_state(0/0)', '0', this.rep()) +
        `eth(src=${this.mac()},dst=00:00:00:00:00:00/00:00:00:00:00:00),eth_type(0x86dd),` +
        `ipv6(src=::/::,dst=::/::,label=0/0,proto=0/0,tclass=0/0,hlimit=0/0,frag=no), ${this.stats(off, dp)}, actions:drop${extraInfo}`
      );
    }
    // ARP, flooded: the userspace datapath's own software flows
    return (
      this.head('ct_state(0/0)', '0', this.rep()) +
      `eth(src=${this.mac()},dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=${this.ip()},tip=${this.ip()},op=1/0,` +
      `sha=${this.mac()}/00:00:00:00:00:00,tha=00:00:00:00:00:00/00:00:00:00:00:00), ` +
      `${this.stats(null, 'ovs')}, actions:${this.rep()},${this.rep()},br-int, dp-extra-info:miniflow_bits(5,2)`
    );
  }

  /** `count` flow lines, with a `flow-dump from` header every 50,000 (pmd threads). */
  *lines(count: number): Generator<string> {
    for (let i = 0; i < count; i++) {
      if (i % 50_000 === 0) yield `flow-dump from pmd on cpu core: ${i / 50_000}`;
      yield this.next();
    }
  }
}
