import { z } from 'zod';
import { nsInodeSync } from '../../sys/ns-inode.js';
import { vfinfoJson, vfinfoText } from './ipvf.js';
import type { LinkTable } from './links.js';
import type { LinkExtras, ShowLinksReply, ShownLink } from './protocol.js';
import type { NicState, PfRec, VfRec } from './state.js';

// ---- what the kernel adds to `ip link show` for the NIC's netdevs ----

/** A VF has a netdev only while a network driver drives it (unbound or vfio-pci: none). */
function hasNetdev(vf: VfRec): boolean {
  return vf.driver !== null && vf.driver !== 'vfio-pci';
}

const NsidListSchema = z.array(z.object({ nsid: z.number(), name: z.string().optional() }));

/** nsid → /var/run/netns name, as the sandbox host netns numbers its peers. */
async function nsidNames(nic: NicState): Promise<Map<number, string>> {
  const raw = await nic.ip.json(nic.host, ['netns', 'list-id']);
  const out = new Map<number, string>();
  for (const e of NsidListSchema.parse(raw)) if (e.name !== undefined) out.set(e.nsid, e.name);
  return out;
}

const parent = (pci: string): LinkExtras => ({ parentbus: 'pci', parentdev: pci });

/**
 * A link of the host netns: the PF's uplink (its PCI function is the PF; it lists the VFs),
 * a representor in switchdev (a child of the PF's PCI device, as mlx5 makes them), or a VF's
 * netdev at home, proven by its veth partner: its peer is the VF's partner end and that
 * end's peer is it. Anything else: nothing. `partnerOf` finds a peer by name.
 */
async function hostExtras(
  nic: NicState,
  l: ShownLink,
  details: boolean,
  byPeer: ReadonlyMap<number, { pf: PfRec; vf: VfRec }>,
  partnerOf: (name: string) => Promise<{ ifindex: number; link?: string | null } | undefined>,
): Promise<LinkExtras | null> {
  const pf = nic.pfs.find((p) => p.uplink === l.ifname);
  if (pf) {
    const e: LinkExtras = details ? parent(pf.pci) : {};
    if (pf.vfs.length > 0)
      e.vfinfo = {
        json: pf.vfs.map((vf) => vfinfoJson(vf.index, vf.knobs)),
        text: pf.vfs.map((vf) => vfinfoText(vf.index, vf.knobs)),
      };
    return e;
  }
  if (!details) return null;
  const asPartner = byPeer.get(l.ifindex);
  if (asPartner) return asPartner.pf.mode === 'switchdev' ? parent(asPartner.pf.pci) : null;
  if (typeof l.link !== 'string') return null;
  const partner = await partnerOf(l.link);
  const hit = partner ? byPeer.get(partner.ifindex) : undefined;
  if (hit && partner?.link === l.ifname && hasNetdev(hit.vf)) return parent(hit.vf.pci);
  return null;
}

/**
 * Answers the ip stand-in for the links of one `ip link show` in the netns `netnsId`. In the
 * sandbox host netns: see hostExtras. In any other netns only a VF's netdev has a parent,
 * and it is proven by what a pod cannot make: its veth peer (`link_index`, another netns) is
 * the VF's partner end in the host netns, that end's peer is this ifindex, and the netns the
 * end points into (its `link_netnsid`) is the one listed, when that netns has a name.
 * The host's links are listed only when a link needs them (most calls need none).
 */
export async function showLinks(
  nic: NicState,
  req: { netnsId: string | null; details: boolean; links: readonly ShownLink[] },
): Promise<ShowLinksReply> {
  const out: ShowLinksReply = {};
  if (req.links.length === 0 || req.netnsId === null) return out;
  const hostId = nsInodeSync(`/var/run/netns/${nic.host.name}`);
  if (hostId === null) return out;
  const inHost = req.netnsId === hostId;
  if (!inHost && !req.details) return out;
  const byPeer = new Map<number, { pf: PfRec; vf: VfRec }>();
  for (const pf of nic.pfs) for (const vf of pf.vfs) byPeer.set(vf.peerIfindex, { pf, vf });
  let host: LinkTable | null = null;
  const hostLinks = async () => (host ??= await nic.hostLinks());

  if (inHost) {
    // The links ip just listed are the host's; a peer it did not list (`show dev X`) is
    // looked up.
    const listed = new Map(req.links.map((l) => [l.ifname, l]));
    const partnerOf = async (name: string) =>
      listed.get(name) ?? (await hostLinks()).byName.get(name);
    for (const l of req.links) {
      const e = await hostExtras(nic, l, req.details, byPeer, partnerOf);
      if (e && Object.keys(e).length > 0) out[String(l.ifindex)] = e;
    }
    return out;
  }

  const candidates: { ifindex: number; pci: string; nsid: number }[] = [];
  for (const shown of req.links) {
    if (shown.link_index === undefined) continue;
    const hit = byPeer.get(shown.link_index);
    if (!hit || !hasNetdev(hit.vf)) continue;
    const partner = (await hostLinks()).byIndex.get(shown.link_index);
    if (partner?.link_index !== shown.ifindex || partner.link_netnsid === undefined) continue;
    candidates.push({ ifindex: shown.ifindex, pci: hit.vf.pci, nsid: partner.link_netnsid });
  }
  if (candidates.length === 0) return out;
  const names = await nsidNames(nic);
  for (const c of candidates) {
    const name = names.get(c.nsid);
    if (name !== undefined && nsInodeSync(`/var/run/netns/${name}`) !== req.netnsId) continue;
    out[String(c.ifindex)] = parent(c.pci);
  }
  return out;
}
