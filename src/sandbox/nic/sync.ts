import type { NicState } from './state.js';
import type { NetdevAttrs } from './tree.js';

/**
 * Makes every function's `net/` entries match the live links: the uplink and (switchdev)
 * the representors under the PF, with phys_port_name and phys_switch_id; under a VF its
 * netdev while it is in the host netns and bound to a network driver.
 */
export async function syncNow(nic: NicState): Promise<void> {
  const links = await nic.hostLinks();
  for (const pf of nic.pfs) {
    const desired = new Map<string, Map<string, NetdevAttrs>>();
    const sw = pf.mode === 'switchdev' ? { physSwitchId: nic.cfg.switchId } : {};
    const pfNet = new Map<string, NetdevAttrs>();
    pfNet.set(pf.uplink, { physPortName: `p${pf.index}`, ...sw });
    for (const vf of pf.vfs) {
      const peer = links.byIndex.get(vf.peerIfindex);
      const vfNet = new Map<string, NetdevAttrs>();
      if (peer) {
        if (pf.mode === 'switchdev')
          pfNet.set(peer.ifname, { physPortName: `pf${pf.index}vf${vf.index}`, ...sw });
        const end = links.byPeerName.get(peer.ifname);
        if (end && vf.driver !== null && vf.driver !== 'vfio-pci') vfNet.set(end.ifname, {});
      }
      desired.set(vf.pci, vfNet);
    }
    desired.set(pf.pci, pfNet);
    for (const [bdf, want] of desired) {
      const have = await nic.tree.listNetdevs(bdf);
      for (const name of have) if (!want.has(name)) await nic.tree.removeNetdev(bdf, name);
      for (const [name, attrs] of want) {
        if (!have.includes(name)) await nic.tree.addNetdev(bdf, name, attrs);
        else await nic.tree.setNetdevAttrs(bdf, name, attrs);
      }
    }
  }
}
