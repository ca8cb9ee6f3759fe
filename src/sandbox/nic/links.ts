import { z } from 'zod';
import type { Ip, Netns } from '../../sys/index.js';

/** The subset of `ip -j link show` the emulator follows. */
export const LinkSchema = z
  .object({
    ifindex: z.number(),
    ifname: z.string(),
    /** Peer name when the veth peer is in the same netns. */
    link: z.string().optional(),
    /** Peer ifindex when the peer is in another netns. */
    link_index: z.number().optional(),
    /** The peer's netns, as this netns numbers it (with link_index). */
    link_netnsid: z.number().optional(),
    address: z.string().optional(),
    mtu: z.number().optional(),
    operstate: z.string().optional(),
    master: z.string().optional(),
  })
  .passthrough();
export type Link = z.infer<typeof LinkSchema>;

export class LinkTable {
  readonly byIndex = new Map<number, Link>();
  readonly byName = new Map<string, Link>();
  /** veth end name → the link whose `link` field names its peer. */
  readonly byPeerName = new Map<string, Link>();

  constructor(readonly links: readonly Link[]) {
    for (const l of links) {
      this.byIndex.set(l.ifindex, l);
      this.byName.set(l.ifname, l);
      if (l.link) this.byPeerName.set(l.link, l);
    }
  }
}

export async function listLinks(ip: Ip, ns: Netns): Promise<LinkTable> {
  const raw = await ip.json(ns, ['link', 'show']);
  return new LinkTable(z.array(LinkSchema).parse(raw));
}
